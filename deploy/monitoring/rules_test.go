package monitoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestPromtoolChecksTheRules(t *testing.T) {
	bin := promtool(t)
	out, err := exec.Command(bin, "check", "rules", filepath.Join(repoRoot, RulesFile)).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	n := 0
	for _, g := range loadRules(t).Groups {
		n += len(g.Rules)
	}
	assert.Contains(t, string(out), fmt.Sprintf("SUCCESS: %d rules found", n))
}

func TestPromtoolUnitTestsOfTheRulesPass(t *testing.T) {
	bin := promtool(t)
	out, err := exec.Command(bin, "test", "rules", filepath.Join(repoRoot, RulesTestFile)).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)

	// And they can fail: one expected annotation changed, promtool says so.
	dir := t.TempDir()
	tests := strings.Replace(string(readFile(t, RulesTestFile)), "Gateway gw-2 receives spans", "Gateway gw-9 receives spans", 1)
	require.NotEqual(t, string(readFile(t, RulesTestFile)), tests)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "otelcol-tiered.rules.yaml"), readFile(t, RulesFile), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(tests), 0o644))
	out, err = exec.Command(bin, "test", "rules", filepath.Join(dir, "t.yaml")).CombinedOutput()
	require.Error(t, err, "promtool test rules passes a wrong expectation:\n%s", out)
	assert.Contains(t, string(out), "OtelcolTieredSpansMisrouted")
}

// unitTests is the part of a promtool test file the tests read.
type unitTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// Every alert has a case where it fires and one where it stays quiet.
func TestEveryAlertHasAFiringAndAQuietCase(t *testing.T) {
	var ut unitTests
	require.NoError(t, yaml.Unmarshal(readFile(t, RulesTestFile), &ut))
	assert.Equal(t, []string{filepath.Base(RulesFile)}, ut.RuleFiles)
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range ut.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	alerts := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			assert.Positive(t, fires[r.Alert], "%s: no promtool case where it fires", r.Alert)
			assert.Positive(t, quiet[r.Alert], "%s: no promtool case where it stays quiet", r.Alert)
		}
	}
	for name := range fires {
		assert.True(t, alerts[name], "promtool case for %s, which is not an alert of the rules", name)
	}
	for name := range quiet {
		assert.True(t, alerts[name], "promtool case for %s, which is not an alert of the rules", name)
	}
}

// Every alert: a severity, a summary, a runbook in the README (linked by
// runbook_url) and a row in the README's alerts table.
func TestEveryAlertHasSeveritySummaryAndRunbook(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	alertsAt := strings.Index(readme, "\n### Alerts\n")
	runbooksAt := strings.Index(readme, "\n### Runbooks\n")
	require.Positive(t, alertsAt, "README: no section ### Alerts")
	require.Greater(t, runbooksAt, alertsAt, "README: no section ### Runbooks after ### Alerts")
	table, runbooks := readme[alertsAt:runbooksAt], readme[runbooksAt:]
	seen := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s: only alerting rules here", g.Name)
			assert.False(t, seen[r.Alert], "%s twice", r.Alert)
			seen[r.Alert] = true
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], "%s: severity", r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], "%s: summary", r.Alert)
			assert.NotEmpty(t, r.Annotations["description"], "%s: description", r.Alert)
			assert.NotEmpty(t, r.For, "%s: for (no alert pages on one evaluation)", r.Alert)
			anchor := strings.ToLower(r.Alert)
			assert.Equal(t, "https://github.com/otelcol-tiered/otelcol-tiered#"+anchor, r.Annotations["runbook_url"], "%s: runbook_url", r.Alert)
			assert.Contains(t, runbooks, "\n#### "+r.Alert+"\n", "README: no runbook for %s", r.Alert)
			row := regexp.MustCompile(`(?m)^\| \[` + r.Alert + `\]\(#` + anchor + `\) \| ` + r.Labels["severity"] + ` \|`)
			assert.Regexp(t, row, table, "README's alerts table: no row for %s with severity %s", r.Alert, r.Labels["severity"])
		}
	}
}

// "Traces on memory near num_traces": the rule's and the dashboard's number
// is the gateway config's num_traces.
func TestNumTracesIsTheGatewayConfigs(t *testing.T) {
	m := regexp.MustCompile(`num_traces: \$\{env:NUM_TRACES:-(\d+)\}`).FindSubmatch(readFile(t, "configs/gateway.yaml"))
	require.NotNil(t, m, "configs/gateway.yaml: tail_sampling::num_traces from NUM_TRACES with a default")
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	assert.Equal(t, n, NumTraces)
	found := false
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "OtelcolTieredTailSamplingTracesOnMemoryHigh" {
				found = true
				assert.Contains(t, r.Expr, fmt.Sprintf("> 0.9 * %d", n))
				assert.Contains(t, r.Annotations["description"], fmt.Sprintf("num_traces (%d)", n))
			}
		}
	}
	assert.True(t, found)
}
