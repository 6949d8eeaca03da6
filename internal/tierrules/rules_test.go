package tierrules

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func load(t *testing.T, path string) (*Config, Role) {
	t.Helper()
	c, err := Load(context.Background(), []string{path}, zap.NewNop())
	require.NoError(t, err)
	role, err := ParseRole(c.Role())
	require.NoErrorf(t, err, "%s: role of its topology extension", path)
	return c, role
}

// The facts a fixture of a rule that needs one is checked with.
var fixtureFacts = map[string]Facts{
	"agent-not-daemonset":                {Workload: "Deployment"},
	"tail-sampling-num-traces-too-small": {TracesPerSecond: 2000},
	"stop-grace-too-short":               {GracePeriod: 15 * time.Second, PreStop: 10 * time.Second},
	"persistent-queue-exceeds-volume":    {QueueVolume: 1 << 30},
}

func TestEachFixtureTriggersExactlyItsRule(t *testing.T) {
	files, err := filepath.Glob(repoPath("testdata", "tierrules", "*.yaml"))
	require.NoError(t, err)
	var fixtures []string
	for _, f := range files {
		fixtures = append(fixtures, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	var ids []string
	for _, r := range Rules() {
		ids = append(ids, r.ID)
	}
	sort.Strings(fixtures)
	assert.Equal(t, ids, fixtures, "one fixture per rule, named after its id")

	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(id, func(t *testing.T) {
			c, role := load(t, f)
			findings := Check(c, role, fixtureFacts[id])
			require.NotEmpty(t, findings, "the fixture triggers nothing")
			for _, got := range findings {
				assert.Equalf(t, id, got.Rule, "other rule triggered: %s", got.Message)
			}
			t.Logf("%s", findings[0].Message)
		})
	}
}

// A rule that needs a fact says nothing without it.
func TestFactRulesAreSilentWithoutTheirFact(t *testing.T) {
	for id := range fixtureFacts {
		c, role := load(t, repoPath("testdata", "tierrules", id+".yaml"))
		assert.Empty(t, Check(c, role, Facts{}), id)
	}
}

func TestShippedConfigsTriggerNone(t *testing.T) {
	healthy := map[Role]Facts{
		Agent:   {Workload: "DaemonSet"},
		Gateway: {Workload: "StatefulSet", TracesPerSecond: 1000, QueueVolume: 5 << 30},
		Sidecar: {Workload: "Pod"},
	}
	for _, name := range []string{"agent", "gateway", "sidecar"} {
		t.Run(name, func(t *testing.T) {
			c, role := load(t, repoPath("configs", name+".yaml"))
			assert.Equal(t, Role(name), role)
			assert.Empty(t, Check(c, role, Facts{}))
			assert.Empty(t, Check(c, role, healthy[role]))
		})
	}
}

// ${env:NAME:-default} is expanded from the environment, as a pod sees it.
func TestLoadExpandsEnvLikeTheCollector(t *testing.T) {
	t.Setenv("NUM_TRACES", "5000")
	t.Setenv("DECISION_WAIT", "30s")
	c, role := load(t, repoPath("configs", "gateway.yaml"))
	findings := Check(c, role, Facts{TracesPerSecond: 1000})
	require.Len(t, findings, 1)
	assert.Equal(t, "tail-sampling-num-traces-too-small", findings[0].Rule)
	assert.Contains(t, findings[0].Message, "num_traces 5000 < 30000 traces arriving during decision_wait 30s at 1000 traces/s")
	assert.Contains(t, findings[0].Message, "at least 30000")
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(context.Background(), []string{"no-such-file.yaml"}, zap.NewNop())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-file.yaml")

	_, err = Load(context.Background(), []string{"yaml:service: [a, b]"}, zap.NewNop())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service: want a map")
}

func parse(t *testing.T, raw map[string]any) *Config {
	t.Helper()
	c, err := Parse(raw)
	require.NoError(t, err)
	return c
}

func pipeline(processors ...any) map[string]any {
	return map[string]any{"receivers": []any{"otlp"}, "processors": processors, "exporters": []any{"otlp_grpc"}}
}

// An effective configuration (marshaled from the components' structs) holds
// durations as nanoseconds and every default.
func TestEffectiveConfigDurationsInNanoseconds(t *testing.T) {
	c := parse(t, map[string]any{
		"processors": map[string]any{
			"memory_limiter": map[string]any{},
			"tail_sampling":  map[string]any{"decision_wait": int64(5e9), "num_traces": 1000},
		},
		"service": map[string]any{"pipelines": map[string]any{"traces": pipeline("memory_limiter", "tail_sampling")}},
	})
	f := Check(c, Agent, Facts{TracesPerSecond: 300})
	var msgs []string
	for _, x := range f {
		msgs = append(msgs, x.Rule+": "+x.Message)
	}
	assert.Contains(t, msgs, "tail-sampling-num-traces-too-small: processor tail_sampling: num_traces 1000 < 1500 traces arriving during decision_wait 5s at 300 traces/s: traces are dropped before their decision; set num_traces to at least 1500 (twice that for bursts)")
	assert.Contains(t, msgs, "tail-sampling-outside-gateway: pipeline traces: tail_sampling outside a gateway decides on partial traces")
}

// A file that leaves num_traces and decision_wait out gets the processor's
// defaults (50,000 traces, 30 s).
func TestTailSamplingDefaults(t *testing.T) {
	c := parse(t, map[string]any{
		"processors": map[string]any{"tail_sampling": nil},
		"service":    map[string]any{"pipelines": map[string]any{"traces": pipeline("memory_limiter", "stickycheck", "tail_sampling", "batch")}},
	})
	assert.Empty(t, Check(c, Gateway, Facts{TracesPerSecond: 1600})[1:], "only health_check is missing")
	f := Check(c, Gateway, Facts{TracesPerSecond: 1700})
	require.Len(t, f, 2)
	assert.Contains(t, f[1].Message, "num_traces 50000 < 51000")
}

func TestMessagesNameThePlace(t *testing.T) {
	c := parse(t, map[string]any{
		"exporters": map[string]any{"loadbalancing/gw": map[string]any{"routing_key": "resource"}},
		"service": map[string]any{
			"extensions": []any{"health_check"},
			"pipelines": map[string]any{
				"traces/in": map[string]any{"processors": []any{"batch", "k8sattributes", "memory_limiter"}, "exporters": []any{"loadbalancing/gw"}},
			},
		},
	})
	var msgs []string
	for _, f := range Check(c, Agent, Facts{}) {
		msgs = append(msgs, f.Message)
	}
	assert.Equal(t, []string{
		`pipeline traces/in: exporter loadbalancing/gw routes by routing_key "resource", not traceID: spans of one trace reach different gateways`,
		"pipeline traces/in: memory_limiter is processor 3 of 3, after batch, k8sattributes; it must come first",
	}, msgs)
}

func TestParseErrorsNameTheKey(t *testing.T) {
	for want, raw := range map[string]map[string]any{
		"processors: want a map": {"processors": []any{"batch"}},
		"service::pipelines::traces::processors[1]: want a component id": {"service": map[string]any{"pipelines": map[string]any{"traces": map[string]any{"processors": []any{"batch", 3}}}}},
		"receivers::otlp: want a map":                                    {"receivers": map[string]any{"otlp": "x"}},
	} {
		_, err := Parse(raw)
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
	}
}

func TestParseRole(t *testing.T) {
	r, err := ParseRole("gateway")
	require.NoError(t, err)
	assert.Equal(t, Gateway, r)
	_, err = ParseRole("collector")
	assert.EqualError(t, err, `unknown role "collector", want one of agent, gateway, sidecar`)
	_, err = ParseRole("")
	assert.EqualError(t, err, "required, one of agent, gateway, sidecar")
}

func TestCanonicalType(t *testing.T) {
	assert.True(t, ComponentID("loadbalancing/x").Is(TypeLoadBalancing))
	assert.True(t, ComponentID("load_balancing").Is(TypeLoadBalancing))
	assert.True(t, ComponentID("k8sattributes").Is(TypeK8sAttributes))
	assert.False(t, ComponentID("tail_sampling_x").Is(TypeTailSampling))
}

func TestEveryRuleIsDocumented(t *testing.T) {
	for _, r := range Rules() {
		assert.NotEmpty(t, r.Summary, r.ID)
		assert.NotEmpty(t, r.Why, r.ID)
		assert.NotEmpty(t, r.Roles, r.ID)
		assert.Contains(t, Severities, r.Severity, r.ID)
	}
}

func TestTailSamplingOfTheConfig(t *testing.T) {
	t.Setenv("DECISION_WAIT", "7s")
	c, _ := load(t, repoPath("configs", "gateway.yaml"))
	ts, ok := c.TailSampling()
	require.True(t, ok)
	assert.Equal(t, TailSampling{ID: "tail_sampling", DecisionWait: 7 * time.Second, NumTraces: 100_000}, ts)

	c, _ = load(t, repoPath("configs", "agent.yaml"))
	_, ok = c.TailSampling()
	assert.False(t, ok)
}

func TestSelfTelemetryURL(t *testing.T) {
	reader := func(host any, port any) *Config {
		return &Config{Telemetry: map[string]any{"metrics": map[string]any{"readers": []any{
			map[string]any{"periodic": map[string]any{}},
			map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": host, "port": port}}}},
		}}}}
	}
	for want, c := range map[string]*Config{
		"http://10.1.2.3:8888/metrics":  reader("10.1.2.3", 8888),
		"http://127.0.0.1:9999/metrics": reader("0.0.0.0", "9999"),
		"http://[::1]:8888/metrics":     reader("::", int64(8888)),
	} {
		got, err := c.SelfTelemetryURL()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := (&Config{Telemetry: map[string]any{"metrics": map[string]any{"level": "none"}}}).SelfTelemetryURL()
	assert.ErrorContains(t, err, "level is none")
	_, err = (&Config{}).SelfTelemetryURL()
	assert.ErrorContains(t, err, "no pull Prometheus reader")

	c, _ := load(t, repoPath("configs", "sidecar.yaml"))
	got, err := c.SelfTelemetryURL()
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:8888/metrics", got)
}

// The gateway's queue as shipped before issue 15's disk-full fix, 3 GiB per
// signal on the 5 GiB claim, could fill the disk before itself; the sizing
// shipped now is the largest that fits, and a sizer not in bytes is named.
func TestQueueVolumeRule(t *testing.T) {
	c, role := load(t, repoPath("configs", "gateway.yaml"))
	q, _ := asMap(c.Exporters["otlp_grpc/backend"]["sending_queue"])
	assert.Empty(t, Check(c, role, Facts{QueueVolume: 5 << 30}))
	q["queue_size"] = 3 << 30
	f := Check(c, role, Facts{QueueVolume: 5 << 30})
	require.Len(t, f, 1)
	assert.Equal(t, "persistent-queue-exceeds-volume", f[0].Rule)
	assert.Contains(t, f[0].Message, "3 persistent queues (otlp_grpc/backend logs, otlp_grpc/backend metrics, otlp_grpc/backend traces) full take up to 18.0 GiB")
	assert.Contains(t, f[0].Message, "lower queue_size to at most 805306368")
	q["sizer"] = "items"
	f = Check(c, role, Facts{QueueVolume: 5 << 30})
	require.Len(t, f, 3)
	assert.Contains(t, f[0].Message, "sending_queue::sizer items bounds no bytes")
}
