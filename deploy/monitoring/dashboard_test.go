package monitoring

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Grafana's interval variable, as Grafana would substitute it.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m")

// promql is Prometheus's parser with its default options: no experimental
// functions or syntax, what a stock Prometheus accepts.
var promql = parser.NewParser(parser.Options{})

type jsonPanel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Panels      []jsonPanel `json:"panels"`
	Datasource  struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		Datasource   struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) (uid string, panels []jsonPanel) {
	t.Helper()
	var d struct {
		UID    string      `json:"uid"`
		Panels []jsonPanel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, DashboardFile), &d))
	var walk func([]jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			if p.Type != "row" {
				panels = append(panels, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return d.UID, panels
}

// Every panel of the JSON that ships has queries, and every query parses
// with Prometheus's own PromQL parser.
func TestEveryPanelsPromQLParses(t *testing.T) {
	uid, panels := loadDashboard(t)
	assert.Equal(t, DashboardUID, uid)
	want := 0
	for _, r := range Rows {
		want += len(r.Panels)
	}
	require.Len(t, panels, want, "the JSON's panels against Rows")
	ids := map[int]string{}
	for _, p := range panels {
		assert.Positive(t, p.ID, "panel %q: id", p.Title)
		assert.Empty(t, ids[p.ID], "panel %q: id %d is %q's too", p.Title, p.ID, ids[p.ID])
		ids[p.ID] = p.Title
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		assert.NotEmpty(t, p.Description, "panel %q", p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q", p.Title)
		for _, q := range p.Targets {
			assert.Equal(t, "${datasource}", q.Datasource.UID, "panel %q", p.Title)
			assert.NotEmpty(t, q.LegendFormat, "panel %q: %s", p.Title, q.Expr)
			expr, err := promql.ParseExpr(grafanaVars.Replace(q.Expr))
			if !assert.NoError(t, err, "panel %q: %s", p.Title, q.Expr) {
				continue
			}
			assert.Equal(t, parser.ValueTypeVector, expr.Type(), "panel %q: %s is not an instant vector", p.Title, q.Expr)
		}
	}
}

// The parser is not lenient: a broken query fails the check above.
func TestTheParserRefusesABrokenQuery(t *testing.T) {
	_, err := promql.ParseExpr(grafanaVars.Replace(`sum by (role) (rate({__name__=~"x(_total)?"}[$__rate_interval])`))
	assert.Error(t, err)
}

// Panels the issue asks for, by title.
func TestTheDashboardHasThePanelsOfTheIssue(t *testing.T) {
	_, panels := loadDashboard(t)
	titles := map[string]bool{}
	for _, p := range panels {
		titles[p.Title] = true
	}
	for _, title := range []string{
		"Spans in per tier", "Spans out per tier", "Spans refused and failed per tier",
		"CPU per replica", "Memory (RSS) per replica",
		"Ring members per gateway, backends per agent", "Ring hash per gateway",
		"Misrouted spans per replica", "Split traces by cause", "Forwarding",
		"Queue fill", "Sampling decisions", "Traces on memory",
	} {
		assert.True(t, titles[title], "no panel %q", title)
	}
	// A ConfigMap's kubectl apply keeps a copy in an annotation of at most
	// 256 KiB.
	assert.Less(t, len(readFile(t, DashboardFile)), 200<<10, "the dashboard's JSON size")
}
