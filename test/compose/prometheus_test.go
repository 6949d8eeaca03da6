package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// The monitoring that deploy/monitoring ships, on a real Prometheus (Debian's
// prometheus package, on loopback) scraping this stack at its published
// metrics ports with the shipped rules file (evaluated every second; the
// rules' own `for:` durations, so a fault shows as pending).
const (
	rulesFile     = "deploy/monitoring/otelcol-tiered.rules.yaml"
	dashboardFile = "deploy/monitoring/otelcol-tiered-dashboard.json"
)

// Dashboard queries that return no series while nothing is wrong: the
// counters they read are created by their first increment. Every other
// query must return series.
var faultOnly = map[string]string{
	"otelcol_receiver_refused_spans":                         "spans refused by a receiver: none at steady state",
	"otelcol_processor_memory_limiter_refused_spans":         "spans refused by memory_limiter: only over its memory limit",
	"otelcol_exporter_send_failed_spans":                     "spans an exporter failed to send: none while the sink answers",
	"otelcol_exporter_enqueue_failed_spans":                  "spans not queued: only with a full queue",
	"otelcol_processor_stickycheck_traces_split":             "split traces: only after a ring change or a misroute",
	"otelcol_processor_stickycheck_spans_forwarded":          "forwarding (issue 14): once gateways forward, and only at ring changes",
	"otelcol_processor_stickycheck_spans_held":               "forwarding (issue 14): once gateways forward, and only at ring changes",
	"otelcol_processor_stickycheck_peer_reports_rejected":    "rejected peer messages: none between the tier's own gateways",
	"otelcol_processor_stickycheck_peer_reports_dropped":     "peer reports dropped unsent: none while every gateway answers",
	"otelcol_processor_tail_sampling_sampling_late_span_age": "late spans: a histogram observed only when a span arrives after its trace's decision",
}

// requirePrometheus finds the Prometheus server. In CI (CI=true) a missing
// one fails: .ci/run installs it.
func requirePrometheus(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found on PATH: install Debian's prometheus package (apt-get install prometheus; .ci/run does) to run the alerts on a real Prometheus: %v", err)
	}
	return path
}

// promServer is a Prometheus started for one test.
type promServer struct {
	t    *testing.T
	addr string
	dir  string
}

// startPrometheus runs Prometheus on a free loopback port with the shipped
// rules, scraping the targets of the file_sd files written by setTargets.
func startPrometheus(t *testing.T, bin string) *promServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	p := &promServer{t: t, addr: addr, dir: t.TempDir()}
	p.setTargets("agent", nil)
	p.setTargets("gateway", nil)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: agent
    file_sd_configs: [{files: [%q], refresh_interval: 1s}]
  - job_name: gateway
    file_sd_configs: [{files: [%q], refresh_interval: 1s}]
`, filepath.Join(testbed.RepoRoot(), rulesFile), filepath.Join(p.dir, "agent.json"), filepath.Join(p.dir, "gateway.json"))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "prometheus.yml"), []byte(cfg), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(p.dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(p.dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", out)
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond, "prometheus at %s never ready", addr)
	return p
}

// setTargets writes a job's file_sd targets (Prometheus rereads the file).
func (p *promServer) setTargets(job string, targets []string) {
	p.t.Helper()
	if targets == nil {
		targets = []string{}
	}
	b, err := json.Marshal([]map[string]any{{"targets": targets, "labels": map[string]string{"namespace": "compose"}}})
	require.NoError(p.t, err)
	tmp := filepath.Join(p.dir, job+".json.tmp")
	require.NoError(p.t, os.WriteFile(tmp, b, 0o644))
	require.NoError(p.t, os.Rename(tmp, filepath.Join(p.dir, job+".json")))
}

func (p *promServer) get(path string, params url.Values, into any) error {
	resp, err := http.Get("http://" + p.addr + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s %v: %s", path, params, body.Error)
	}
	return json.Unmarshal(body.Data, into)
}

type promSample struct {
	Metric map[string]string `json:"metric"`
}

// query runs an instant query; the error is Prometheus's (parse errors too).
func (p *promServer) query(expr string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	return data.Result, nil
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (a promAlert) String() string {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		if k != "alertname" && k != "severity" {
			keys = append(keys, k+"="+a.Labels[k])
		}
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s{%s} %s", a.Labels["alertname"], strings.Join(keys, ","), a.State)
}

// alerts returns the pending and firing alerts.
func (p *promServer) alerts() []promAlert {
	p.t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	require.NoError(p.t, p.get("/api/v1/alerts", nil, &data))
	return data.Alerts
}

// ruleHealth returns the number of rules loaded and those not healthy after
// an evaluation.
func (p *promServer) ruleHealth() (loaded int, unhealthy []string) {
	p.t.Helper()
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	require.NoError(p.t, p.get("/api/v1/rules", nil, &data))
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			loaded++
			if r.Health != "ok" {
				unhealthy = append(unhealthy, fmt.Sprintf("%s: %s %s", r.Name, r.Health, r.LastError))
			}
		}
	}
	return loaded, unhealthy
}

// dashboardQueries reads every query of the shipped dashboard's JSON.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), dashboardFile))
	require.NoError(t, err)
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, q := range p.Targets {
				out[p.Title] = append(out[p.Title], q.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	require.NotEmpty(t, out)
	return out
}

// scrapeTargets points Prometheus at the stack's agent and gateways.
func scrapeTargets(s *stack, p *promServer, extraGateways ...string) {
	agents := []string{}
	for _, c := range s.containers("agent") {
		agents = append(agents, c.Published[portMetrics])
	}
	gateways := append([]string{}, extraGateways...)
	for _, c := range s.containers("gateway") {
		gateways = append(gateways, c.Published[portMetrics])
	}
	p.setTargets("agent", agents)
	p.setTargets("gateway", gateways)
}

// sendTraces sends n whole traces of 10 spans through endpoint.
func sendTraces(t *testing.T, endpoint string, seed uint64, n int) {
	t.Helper()
	sender, err := testbed.NewSender(endpoint)
	require.NoError(t, err)
	defer sender.Close()
	td := ptrace.NewTraces()
	testbed.AppendSpans(td, "monitoring", testbed.TraceIDs(seed, n), 0, 10)
	require.NoError(t, sender.Send(context.Background(), td))
}

// monitoringOnPrometheus: at steady state every rule evaluates and nothing
// is pending or firing; a rogue gateway with a ring of its own, sent traces
// directly, makes the ring-hash, misroute and backends alerts go pending
// and no other; every dashboard query runs, and all but the fault-only ones
// return series.
func monitoringOnPrometheus(t *testing.T, s *stack) {
	bin := requirePrometheus(t)
	p := startPrometheus(t, bin)
	scrapeTargets(s, p)

	// Steady state: traffic through the agent while Prometheus gathers a
	// few samples of every target.
	deadline := time.Now().Add(15 * time.Second)
	for i := uint64(0); time.Now().Before(deadline); i++ {
		sendTraces(t, s.agentOTLP(), 900+i, 50)
		time.Sleep(time.Second)
	}
	up, err := p.query(`up == 1`)
	require.NoError(t, err)
	require.Len(t, up, 4, "targets up: the agent and 3 gateways")
	loaded, unhealthy := p.ruleHealth()
	require.Equal(t, 15, loaded, "rules loaded from %s", rulesFile)
	assert.Empty(t, unhealthy, "rules that do not evaluate")
	quiet := p.alerts()
	assert.Emptyf(t, quiet, "alerts at steady state: %v", quiet)

	// The fault: a gateway whose ring is two of the three replicas (its own
	// ring hash and member count), not itself a member: every span sent to
	// it is misrouted (self_not_member).
	gateways := s.containers("gateway")
	require.Len(t, gateways, 3)
	rogue := startRogueGateway(t, gateways[0], []string{gateways[0].IP + ":4317", gateways[1].IP + ":4317"})
	scrapeTargets(s, p, rogue.Published[portMetrics])
	want := map[string]bool{
		"OtelcolTieredRingHashDisagreement":         true,
		"OtelcolTieredSpansMisrouted":               true,
		"OtelcolTieredLoadBalancerBackendsMismatch": true,
	}
	var active []promAlert
	start := time.Now()
	for i := uint64(0); time.Since(start) < 60*time.Second; i++ {
		sendTraces(t, rogue.Published[portOTLP], 950+i, 20)
		time.Sleep(time.Second)
		active = p.alerts()
		got := map[string]bool{}
		for _, a := range active {
			got[a.Labels["alertname"]] = true
		}
		if len(got) >= len(want) {
			break
		}
	}
	t.Logf("after %.0fs of the rogue gateway: %v", time.Since(start).Seconds(), active)
	got := map[string]bool{}
	for _, a := range active {
		got[a.Labels["alertname"]] = true
		assert.Truef(t, want[a.Labels["alertname"]], "unexpected alert %s", a)
		assert.Equal(t, "pending", a.State, "%s: the rules' for: has not passed", a)
		if a.Labels["alertname"] == "OtelcolTieredSpansMisrouted" {
			assert.Equal(t, rogue.Published[portMetrics], a.Labels["instance"], "%s: the rogue gateway", a)
			assert.Equal(t, "self_not_member", a.Labels["reason"], "%s", a)
		}
	}
	for name := range want {
		assert.True(t, got[name], "%s did not go pending", name)
	}

	// The dashboard: every query runs; all but the fault-only ones return
	// series.
	var empty []string
	queries := 0
	for title, exprs := range dashboardQueries(t) {
		for _, expr := range exprs {
			queries++
			res, err := p.query(strings.ReplaceAll(expr, "$__rate_interval", "1m"))
			if !assert.NoError(t, err, "panel %q", title) {
				continue
			}
			if len(res) > 0 {
				continue
			}
			why := ""
			for metric, reason := range faultOnly {
				if strings.Contains(expr, metric) {
					why = reason
				}
			}
			if why == "" {
				t.Errorf("panel %q: no series for %s", title, expr)
				continue
			}
			empty = append(empty, fmt.Sprintf("%q (%s)", title, why))
		}
	}
	sort.Strings(empty)
	t.Logf("%d dashboard queries ran, %d returned series; empty, fault-only: %s", queries, queries-len(empty), strings.Join(empty, "; "))
}

// startRogueGateway runs one more gateway on the stack's network, from the
// same image, command, environment and bind mounts as like, but with a static ring of
// members; its OTLP and metrics ports are published on loopback. It is
// removed when the test ends.
func startRogueGateway(t *testing.T, like testbed.Container, members []string) testbed.Container {
	t.Helper()
	out, err := execDocker("inspect", like.ID)
	require.NoError(t, err, out)
	var raw []struct {
		Image  string
		Config struct {
			Env []string
			Cmd []string
		}
		HostConfig struct {
			Binds []string
		}
		NetworkSettings struct {
			Networks map[string]struct{}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	require.Len(t, raw, 1)
	name := uniqueName("rogue-gateway")
	args := []string{"run", "-d", "--name", name, "-p", "127.0.0.1::4317", "-p", "127.0.0.1::8888"}
	for n := range raw[0].NetworkSettings.Networks {
		args = append(args, "--network", n)
		break
	}
	// The same files (a token file, should the gateways read one).
	for _, b := range raw[0].HostConfig.Binds {
		args = append(args, "-v", b)
	}
	for _, e := range raw[0].Config.Env {
		if strings.HasPrefix(e, "GATEWAY_RESOLVER=") {
			continue
		}
		args = append(args, "-e", e)
	}
	args = append(args, "-e", fmt.Sprintf("GATEWAY_RESOLVER={static: {hostnames: [%s]}}", strings.Join(members, ", ")))
	args = append(args, raw[0].Image)
	args = append(args, raw[0].Config.Cmd...)
	out, err = execDocker(args...)
	require.NoError(t, err, out)
	t.Cleanup(func() {
		if out, err := execDocker("rm", "-f", name); err != nil {
			t.Errorf("removing %s: %v: %s", name, err, out)
		}
	})
	var rogue testbed.Container
	require.Eventually(t, func() bool {
		ctrs, err := testbed.InspectContainers(context.Background(), name)
		if err != nil || len(ctrs) != 1 || ctrs[0].Published[portMetrics] == "" {
			return false
		}
		rogue = ctrs[0]
		m, err := testbed.Scrape(rogue.Published[portMetrics])
		return err == nil && int(m.Sum(metricRingMembers, nil)) == len(members)
	}, 60*time.Second, 250*time.Millisecond, "the rogue gateway never reported a ring of %d members", len(members))
	t.Logf("rogue gateway %s (%s) with ring %v", name, rogue.IP, members)
	return rogue
}
