package topologyextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension/internal/metadatatest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// fakeTelemetry serves a collector's self-telemetry whose counters grow at
// fixed rates from the moment it starts.
type fakeTelemetry struct {
	server           *http.Server
	addr             string
	start            time.Time
	spansPerSecond   float64
	tracesPerSecond  float64
	withTailSampling bool
	wg               sync.WaitGroup
}

func startFakeTelemetry(t *testing.T, host string, spansPerSecond, tracesPerSecond float64) *fakeTelemetry {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	require.NoError(t, err)
	f := &fakeTelemetry{addr: ln.Addr().String(), start: time.Now(), spansPerSecond: spansPerSecond, tracesPerSecond: tracesPerSecond, withTailSampling: tracesPerSecond > 0}
	f.server = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: time.Second}
	f.wg.Add(1)
	go func() { defer f.wg.Done(); _ = f.server.Serve(ln) }()
	t.Cleanup(func() { _ = f.server.Close(); f.wg.Wait() })
	return f
}

func (f *fakeTelemetry) serve(w http.ResponseWriter, _ *http.Request) {
	el := time.Since(f.start).Seconds()
	fmt.Fprintf(w, "# TYPE otelcol_receiver_accepted_spans counter\n")
	fmt.Fprintf(w, "otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"grpc\"} %f\n", f.spansPerSecond*el*0.75)
	fmt.Fprintf(w, "otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"http\"} %f\n", f.spansPerSecond*el*0.25)
	fmt.Fprintf(w, "# TYPE otelcol_process_cpu_seconds gauge\notelcol_process_cpu_seconds %f\n", 0.1*el)
	fmt.Fprintf(w, "# TYPE otelcol_process_memory_rss gauge\notelcol_process_memory_rss %f\n", 100e6+1e6*el)
	if f.withTailSampling {
		fmt.Fprintf(w, "# TYPE otelcol_processor_tail_sampling_new_trace_id_received counter\n")
		fmt.Fprintf(w, "otelcol_processor_tail_sampling_new_trace_id_received_total %f\n", f.tracesPerSecond*el)
	}
}

// snapshot is the effective configuration of a rules fixture, with the
// self-telemetry reader pointing at addr (none when addr is empty).
func snapshot(t *testing.T, fixture, addr string) extensioncapabilities.ConfigSnapshot {
	t.Helper()
	conf, err := confmaptest.LoadConf(filepath.Join("..", "..", "testdata", "tierrules", fixture+".yaml"))
	require.NoError(t, err)
	telemetry := map[string]any{"metrics": map[string]any{"level": "none"}}
	if addr != "" {
		host, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		telemetry = map[string]any{"metrics": map[string]any{"level": "normal", "readers": []any{
			map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": host, "port": port}}}},
		}}}
	}
	require.NoError(t, conf.Merge(confmap.NewFromStringMap(map[string]any{"service": map[string]any{"telemetry": telemetry}})))
	return extensioncapabilities.NewConfigSnapshot(conf, nil)
}

func newTestTopology(t *testing.T, role, endpoint string, window time.Duration, tel *componenttest.Telemetry) *topology {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Role, cfg.NetAddr.Endpoint, cfg.Window = role, endpoint, window
	require.NoError(t, confmap.Validate(cfg))
	set := metadatatest.NewSettings(tel)
	topo, err := newTopology(set, cfg)
	require.NoError(t, err)
	topo.getenv = func(string) string { return "" }
	return topo
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestEndpointServesRoleFindingsPipelinesAndSizing(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	fake := startFakeTelemetry(t, "127.0.60.2", 2000, 400)
	topo := newTestTopology(t, "gateway", "127.0.60.3:13134", 5*time.Second, tel)
	ctx := context.Background()
	require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, topo.Shutdown(ctx)) }()
	require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "gateway-tail-sampling-without-stickycheck", fake.addr)))

	code, body := get(t, "http://127.0.60.3:13134/topology")
	require.Equal(t, http.StatusOK, code, body)
	var st status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	assert.Equal(t, "gateway", st.Role)
	assert.Equal(t, "topology", st.Component)
	require.Len(t, st.Findings, 1)
	assert.Equal(t, "gateway-tail-sampling-without-stickycheck", st.Findings[0].Rule)
	assert.Equal(t, tierrules.SeverityWarning, st.Findings[0].Severity)
	assert.Equal(t, map[tierrules.Severity]int{"error": 0, "warning": 1, "info": 0}, st.BySeverity)
	require.Len(t, st.Pipelines, 1)
	assert.Equal(t, []tierrules.ComponentID{"memory_limiter", "tail_sampling", "batch"}, st.Pipelines[0].Processors)

	// Rates come once two samples (a second apart at this window) are in.
	var rep sizing.Report
	require.Eventually(t, func() bool {
		_, body := get(t, "http://127.0.60.3:13134/topology/sizing")
		require.NoError(t, json.Unmarshal([]byte(body), &rep))
		return rep.Measured.Samples >= 3
	}, 10*time.Second, 100*time.Millisecond)
	assert.InEpsilon(t, 2000, rep.Measured.SpansPerSecond, 0.05)
	assert.InEpsilon(t, 400, rep.Measured.TracesPerSecond, 0.05)
	assert.InEpsilon(t, 0.1, rep.Measured.CPUCores, 0.05)
	require.NotNil(t, rep.TailSampling)
	assert.InEpsilon(t, 5, rep.TailSampling.SpansPerTrace, 0.05)
	assert.Equal(t, "10s", rep.TailSampling.DecisionWait)
	assert.Contains(t, rep.Measured.Basis, "http://"+fake.addr+"/metrics")

	code, body = get(t, "http://127.0.60.3:13134/topology/sizing?format=k8s")
	require.Equal(t, http.StatusOK, code)
	var doc struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		Replicas  int                         `json:"replicas"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(body), &doc), body)
	assert.False(t, doc.Resources.Requests.Cpu().IsZero(), body)
	assert.Equal(t, 3, doc.Replicas)

	code, body = get(t, "http://127.0.60.3:13134/topology/sizing?format=xml")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, `format: unknown "xml", want json or k8s`)
	resp, err := http.Post("http://127.0.60.3:13134/topology", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	metadatatest.AssertEqualExtensionTopologyInfo(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("role", "gateway")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionTopologyFindings(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("severity", "error")), Value: 0},
		{Attributes: attribute.NewSet(attribute.String("severity", "warning")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("severity", "info")), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
}

// num_traces 1,000 held 10 s: fine without traffic, an error at 400 traces/s.
func TestLiveRuleFiresOnTheMeasuredTraceRate(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	fake := startFakeTelemetry(t, "127.0.60.2", 2000, 400)
	topo := newTestTopology(t, "gateway", "127.0.60.3:13135", 5*time.Second, tel)
	ctx := context.Background()
	require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, topo.Shutdown(ctx)) }()
	require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "tail-sampling-num-traces-too-small", fake.addr)))

	require.Eventually(t, func() bool {
		_, body := get(t, "http://127.0.60.3:13135/topology")
		var st status
		require.NoError(t, json.Unmarshal([]byte(body), &st))
		return len(st.Findings) == 1 && st.Findings[0].Rule == "tail-sampling-num-traces-too-small"
	}, 10*time.Second, 100*time.Millisecond)
	metadatatest.AssertEqualExtensionTopologyFindings(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("severity", "error")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("severity", "warning")), Value: 0},
		{Attributes: attribute.NewSet(attribute.String("severity", "info")), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
}

func TestStrictStopsStartupOnErrorFindings(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	ctx := context.Background()
	for _, strict := range []bool{false, true} {
		topo := newTestTopology(t, "gateway", "127.0.60.3:13136", 5*time.Second, tel)
		topo.cfg.Strict = strict
		require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
		err := topo.NotifyConfigSnapshot(ctx, snapshot(t, "gateway-without-health-check", ""))
		require.NoError(t, topo.Shutdown(ctx))
		if !strict {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err)
		assert.Equal(t, "topology (strict): the configuration breaks 1 error-level rule(s) of the gateway tier: "+
			"[gateway-without-health-check] service::extensions has no health_check: liveness and readiness probes have nothing to ask; "+
			"fix it, or set strict: false to start anyway", err.Error())
	}
}

func TestStartupLogsOneLinePerFinding(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	topo := newTestTopology(t, "sidecar", "127.0.60.3:13137", 5*time.Second, tel)
	topo.logger = zap.New(core)
	ctx := context.Background()
	require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, topo.Shutdown(ctx)) }()
	require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "batch-missing", "")))

	warns := logs.FilterLevelExact(zap.WarnLevel).FilterField(zap.String("rule", "batch-missing")).All()
	require.Len(t, warns, 1)
	assert.Equal(t, "topology rule batch-missing (warning): pipeline logs: exports to otlp_grpc/gateway without batch", warns[0].Message)
	// No self-telemetry: the sizing hint says so and falls back to the table.
	assert.Len(t, logs.FilterMessage("no live measurement: sizing hints fall back to the tables").All(), 1)
	_, body := get(t, "http://127.0.60.3:13137/topology/sizing")
	var rep sizing.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep))
	assert.Contains(t, rep.Measured.Basis, "service::telemetry::metrics::level is none")
	assert.Equal(t, sizing.Quantities{CPU: "50m", Memory: "64Mi"}, rep.Hint.Requests)
}

func TestPortInUseFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.60.4:13134")
	require.NoError(t, err)
	defer ln.Close()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	topo := newTestTopology(t, "agent", "127.0.60.4:13134", time.Minute, tel)
	err = topo.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "topology endpoint 127.0.60.4:13134: listen tcp 127.0.60.4:13134: bind: address already in use")
	require.NoError(t, topo.Shutdown(context.Background()))
}
