package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

func getBody(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equalf(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return string(body)
}

// A gateway fed 2,000 spans/s for 30 s reports that rate on
// /topology/sizing, and its k8s block is a Kubernetes ResourceRequirements.
func TestTopologyMeasuresTheRatePushedIntoAGateway(t *testing.T) {
	const (
		spansPerSecond = 2000
		spansPerTrace  = 10
		tick           = 100 * time.Millisecond
		duration       = 30 * time.Second
		window         = 20 * time.Second
		tracesPerTick  = spansPerSecond * int(tick/time.Millisecond) / 1000 / spansPerTrace
	)
	run := testbed.StartTopology(t, "127.0.60", 1, map[string]string{
		"TOPOLOGY_WINDOW": window.String(),
		"DECISION_WAIT":   "2s",
	})
	gw := run.Gateways[0]
	topoURL := "http://" + gw.Addr(localtopo.PortTopology) + "/topology"

	var st struct {
		Role      string               `json:"role"`
		Findings  []tierrules.Finding  `json:"findings"`
		Pipelines []tierrules.Pipeline `json:"pipelines"`
	}
	require.NoError(t, json.Unmarshal([]byte(getBody(t, topoURL)), &st))
	assert.Equal(t, "gateway", st.Role)
	assert.Empty(t, st.Findings, "the shipped gateway config breaks no rule")
	assert.Len(t, st.Pipelines, 3)
	require.NoError(t, json.Unmarshal([]byte(getBody(t, "http://"+run.Agent.Addr(localtopo.PortTopology)+"/topology")), &st))
	assert.Equal(t, "agent", st.Role)
	assert.Empty(t, st.Findings, "the shipped agent config breaks no rule")

	// A paced sender: tracesPerTick traces of spansPerTrace spans every tick,
	// on an absolute schedule, bounded in count and time.
	sender, err := testbed.NewSender(gw.Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer sender.Close()
	ticks := int(duration / tick)
	ids := testbed.TraceIDs(60, ticks*tracesPerTick)
	var sent atomic.Int64
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		for i := range ticks {
			time.Sleep(time.Until(start.Add(time.Duration(i) * tick)))
			td := ptrace.NewTraces()
			testbed.AppendSpans(td, "checkout", ids[i*tracesPerTick:(i+1)*tracesPerTick], 0, spansPerTrace)
			if err := sender.Send(context.Background(), td); err != nil {
				sendErr <- err
				return
			}
			sent.Add(int64(tracesPerTick * spansPerTrace))
		}
		sendErr <- nil
	}()

	// Read the sizing block once the window lies wholly inside the steady run.
	time.Sleep(time.Until(start.Add(window + 6*time.Second)))
	var rep sizing.Report
	sizingJSON := getBody(t, topoURL+"/sizing")
	require.NoError(t, json.Unmarshal([]byte(sizingJSON), &rep))
	k8s := getBody(t, topoURL+"/sizing?format=k8s")
	sentRate := float64(sent.Load()) / time.Since(start).Seconds()
	require.NoError(t, <-sendErr)
	t.Logf("sent %.0f spans/s; measured over %s: %.1f spans/s, %.1f traces/s, %.4f cores, RSS %d MiB",
		sentRate, rep.Measured.Over, rep.Measured.SpansPerSecond, rep.Measured.TracesPerSecond, rep.Measured.CPUCores, rep.Measured.RSSBytes>>20)
	require.InEpsilonf(t, spansPerSecond, sentRate, 0.03, "the sender did not keep its pace (a loaded machine?)")

	assert.InEpsilon(t, spansPerSecond, rep.Measured.SpansPerSecond, 0.10, "measured span rate")
	assert.InEpsilon(t, spansPerSecond/spansPerTrace, rep.Measured.TracesPerSecond, 0.10, "measured trace rate")
	assert.GreaterOrEqual(t, rep.Measured.Samples, 10)
	assert.Greater(t, rep.Measured.CPUCores, 0.0)
	assert.Positive(t, rep.Measured.RSSBytes)
	assert.Equal(t, "1-10k RPS", rep.Table.Row.Name, rep.Table.Basis)
	require.NotNil(t, rep.TailSampling)
	assert.InEpsilon(t, spansPerTrace, rep.TailSampling.SpansPerTrace, 0.10)
	assert.Positive(t, rep.TailSampling.EstimateBytes)
	assert.True(t, rep.Cost.Measured)

	var doc struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		Replicas  int                         `json:"replicas"`
		HPA       struct {
			MinReplicas int `json:"minReplicas"`
			MaxReplicas int `json:"maxReplicas"`
		} `json:"hpa"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(k8s), &doc), k8s)
	req, lim := doc.Resources.Requests, doc.Resources.Limits
	assert.False(t, req.Cpu().IsZero(), k8s)
	assert.False(t, req.Memory().IsZero(), k8s)
	assert.Equal(t, 1, lim.Cpu().Cmp(*req.Cpu()), "limits above requests: %s", k8s)
	assert.Equal(t, 1, lim.Memory().Cmp(*req.Memory()), "limits above requests: %s", k8s)
	assert.GreaterOrEqual(t, doc.Replicas, 3)
	assert.GreaterOrEqual(t, doc.HPA.MaxReplicas, doc.HPA.MinReplicas)
	t.Logf("sizing:\n%s\nk8s block:\n%s", sizingJSON, k8s)

	m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	assert.EqualValues(t, 1, m.Sum("otelcol_extension_topology_info", map[string]string{"role": "gateway"}))
	assert.EqualValues(t, 0, m.Sum("otelcol_extension_topology_findings", nil))
	_, ok := m["otelcol_extension_topology_findings"]
	assert.True(t, ok, "the findings gauge is exposed")
}

func TestTopologyStrictStopsStartupOnErrorFindings(t *testing.T) {
	cmd := exec.Command(testbed.Binary(t), "--config", filepath.Join(testbed.RepoRoot(), "testdata", "bad-configs", "topology-strict.yaml"))
	out, err := runToExit(t, cmd, 60*time.Second)
	require.Error(t, err, out)
	assert.Contains(t, out, "topology rule gateway-without-health-check (error)")
	assert.Contains(t, out, "Error: topology (strict): the configuration breaks 1 error-level rule(s) of the gateway tier: "+
		"[gateway-without-health-check] service::extensions has no health_check")
}

func TestTopologyPortInUseFailsStartup(t *testing.T) {
	const host = "127.0.60.32"
	ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(localtopo.PortTopology)))
	require.NoError(t, err)
	defer ln.Close()
	cmd := exec.Command(testbed.Binary(t), "--config", filepath.Join(testbed.RepoRoot(), "configs", "gateway.yaml"))
	cmd.Env = append(os.Environ(), "POD_IP="+host, "FILE_STORAGE_DIR="+t.TempDir(), localtopo.PeerTokenEnv+"=topology")
	out, err := runToExit(t, cmd, 60*time.Second)
	require.Error(t, err, out)
	assert.Contains(t, out, "topology endpoint 127.0.60.32:13134: listen tcp 127.0.60.32:13134: bind: address already in use")
}

// Every rules fixture is a real configuration of this distribution.
func TestTierRuleFixturesValidate(t *testing.T) {
	bin := testbed.Binary(t)
	files, err := filepath.Glob(filepath.Join(testbed.RepoRoot(), "testdata", "tierrules", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(tierrules.Rules()))
	for _, f := range files {
		out, err := exec.Command(bin, "validate", "--config", f).CombinedOutput()
		assert.NoErrorf(t, err, "validate %s:\n%s", filepath.Base(f), out)
	}
}

// The extension, on the collector's effective configuration (every default
// filled in, durations in nanoseconds), finds exactly what tiercheck finds
// in the file: each rules fixture started in the built binary.
func TestLiveFindingsMatchTheOfflineCheck(t *testing.T) {
	bin := testbed.Binary(t)
	files, err := filepath.Glob(filepath.Join(testbed.RepoRoot(), "testdata", "tierrules", "*.yaml"))
	require.NoError(t, err)
	for i, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			offline, err := tierrules.Load(context.Background(), []string{f}, zap.NewNop())
			require.NoError(t, err)
			role, err := tierrules.ParseRole(offline.Role())
			require.NoError(t, err)
			want := tierrules.Check(offline, role, tierrules.Facts{})

			// The fixture on an address of its own, with self-telemetry.
			host := fmt.Sprintf("127.0.60.%d", 51+i)
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			text := strings.NewReplacer("127.0.0.1:", host+":", "localhost:", host+":", "127.0.0.11:", "127.0.60.49:", "127.0.0.12:", "127.0.60.49:").Replace(string(b))
			text += fmt.Sprintf("  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: %s\n                port: 8888\n", host)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(text), 0o600))

			cmd := exec.Command(bin, "--config", cfg)
			var log strings.Builder
			cmd.Stdout, cmd.Stderr = &log, &log
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

			var st struct {
				Pipelines []tierrules.Pipeline `json:"pipelines"`
				Findings  []tierrules.Finding  `json:"findings"`
			}
			url := "http://" + net.JoinHostPort(host, fmt.Sprint(localtopo.PortTopology)) + "/topology"
			client := &http.Client{Timeout: time.Second}
			deadline := time.Now().Add(30 * time.Second)
			for len(st.Pipelines) == 0 {
				require.Falsef(t, time.Now().After(deadline), "no configuration on %s after 30s:\n%s", url, log.String())
				time.Sleep(100 * time.Millisecond)
				resp, err := client.Get(url)
				if err != nil {
					continue
				}
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
				_ = resp.Body.Close()
			}
			assert.Equal(t, want, st.Findings)
		})
	}
}
