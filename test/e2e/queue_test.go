package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Issue 15's tests on the built binary with the shipped configs: each on its
// own loopback network 127.0.15x, counting at the sink by trace and span ID.

// bigSpanTraces makes one trace per size, each of one span carrying size
// bytes in an attribute; the trace IDs come from seed.
func bigSpanTraces(seed uint64, sizes []int) ([]pcommon.TraceID, []ptrace.Traces) {
	ids := testbed.TraceIDs(seed, len(sizes))
	out := make([]ptrace.Traces, len(sizes))
	for i, n := range sizes {
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "big", ids[i:i+1], 0, 1)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("payload", strings.Repeat("p", n))
		out[i] = td
	}
	return ids, out
}

// Issue 15, part 4: 10 traces of one 600 KB span and 1 small trace, sent to
// the agent one request each: the agent's batch merges them into one 6 MB
// batch, above both the gateway's and the backend's 4 MiB gRPC limit. With
// the shipped byte bounds every trace reaches the sink; a 3.3 MB span, too
// large alone for the agent's 3 MiB bound, is dropped alone and counted.
func TestOversizedBatchesEveryTraceReachesTheSink(t *testing.T) {
	run := testbed.StartTopology(t, "127.0.151", 1, map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"})
	sizes := []int{600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000, 40, 3_300_000}
	ids, tds := bigSpanTraces(151, sizes)
	sender, err := testbed.NewSender(run.Agent.Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer sender.Close()
	for _, td := range tds {
		require.NoError(t, sender.Send(context.Background(), td))
	}

	got := waitForSinkSpans(t, run.SinkFile, 11, 60*time.Second)
	for i, id := range ids[:11] {
		assert.Lenf(t, got[id], 1, "trace %d (%d bytes) at the sink", i, sizes[i])
	}
	assert.Empty(t, got[ids[11]], "the span too large alone is dropped")
	assert.Len(t, got, 11, "nothing else at the sink")

	m, err := testbed.Scrape(run.Agent.Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	dropped, ok := sumMetric(m, "otelcol_processor_exportguard_spans_dropped", map[string]string{"reason": "too_large"})
	require.True(t, ok, "the agent publishes otelcol_processor_exportguard_spans_dropped")
	assert.Equal(t, 1.0, dropped, "one span dropped, alone")
	for _, who := range []localtopo.Member{run.Gateways[0], run.Agent} {
		m, err := testbed.Scrape(who.Addr(localtopo.PortMetrics))
		require.NoError(t, err)
		failed, _ := sumMetric(m, "otelcol_exporter_send_failed_spans", nil)
		assert.Zerof(t, failed, "%s: no export failed", who.Name)
	}
}

func sumMetric(m testbed.Metrics, name string, match map[string]string) (float64, bool) {
	if _, ok := m[name]; !ok {
		if _, ok := m[name+"_total"]; !ok {
			return 0, false
		}
	}
	return m.Sum(name, match), true
}

// gatewayAndSink plans one gateway and the sink on net (no agent: the test
// sends to the gateway) and starts the sink; the caller starts the gateway.
func gatewayAndSink(t *testing.T, net string, env map[string]string) (localtopo.Topology, *localtopo.Process) {
	t.Helper()
	topo, err := localtopo.Plan(localtopo.Options{
		Net: net, Gateways: 1, ConfigDir: filepath.Join(testbed.RepoRoot(), "configs"), WorkDir: t.TempDir(), Env: env,
	})
	require.NoError(t, err)
	require.NoError(t, localtopo.CheckPortsFree(append([]localtopo.Member{topo.Sink}, topo.Gateways...)))
	sink := startMember(t, topo.Sink)
	return topo, sink
}

func startMember(t *testing.T, m localtopo.Member) *localtopo.Process {
	t.Helper()
	p, err := localtopo.StartProcess(context.Background(), testbed.Binary(t), m)
	require.NoError(t, err)
	t.Cleanup(func() {
		select {
		case <-p.Exited():
		default:
			p.Kill()
		}
	})
	return p
}

// sendTraces sends n traces of spans spans each to endpoint, per traces a
// request, and returns their IDs.
func sendTraces(t *testing.T, endpoint string, seed uint64, n, spans, per int) []pcommon.TraceID {
	t.Helper()
	sender, err := testbed.NewSender(endpoint)
	require.NoError(t, err)
	defer sender.Close()
	ids := testbed.TraceIDs(seed, n)
	for i := 0; i < n; i += per {
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "queue", ids[i:min(i+per, n)], 0, spans)
		require.NoError(t, sender.Send(context.Background(), td))
	}
	return ids
}

// stopAndWait sends SIGTERM and waits up to limit for the exit.
func stopAndWait(t *testing.T, p *localtopo.Process, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.NoError(t, syscall.Kill(p.Pid(), syscall.SIGTERM))
	select {
	case <-p.Exited():
		return time.Since(start)
	case <-time.After(limit):
		p.Kill()
		t.Fatalf("%s did not exit within %s of SIGTERM", p.Member().Name, limit)
		return 0
	}
}

// tally counts, for ids, the spans the sink holds: missing spans of the
// traces (spans 0..spans-1 each), and spans beyond one copy (duplicates).
func tally(got map[pcommon.TraceID][]testbed.SinkSpan, ids []pcommon.TraceID, spans int) (lost, dup int) {
	for _, id := range ids {
		seen := map[pcommon.SpanID]int{}
		for _, s := range got[id] {
			seen[s.SpanID]++
		}
		for i := range spans {
			switch c := seen[testbed.SpanID(id, i)]; {
			case c == 0:
				lost++
			case c > 1:
				dup += c - 1
			}
		}
	}
	return lost, dup
}

// waitDelivered reads the sink until it holds every span of ids (or within
// has passed), then once more after late duplicates had time to arrive, and
// returns that last read.
func waitDelivered(t *testing.T, path string, ids []pcommon.TraceID, spans int, within time.Duration) map[pcommon.TraceID][]testbed.SinkSpan {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if lost, _ := tally(readSink(t, path), ids, spans); lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	return readSink(t, path)
}

func readSink(t *testing.T, path string) map[pcommon.TraceID][]testbed.SinkSpan {
	t.Helper()
	got, err := testbed.ReadSinkSpans(path)
	require.NoError(t, err)
	return got
}

// waitQueued waits until the gateway's traces export queue holds at least
// one request, and returns the size it saw.
func waitQueued(t *testing.T, gw localtopo.Member, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
		if err == nil {
			if n := m.Sum("otelcol_exporter_queue_size", map[string]string{"data_type": "traces"}); n > 0 {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's traces export queue still empty after %s (last scrape error: %v)", gw.Name, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Issue 15, part 1: a gateway stopped (SIGTERM) with its disk queue full
// delivers the queue before it exits. The backend is down while the traces
// arrive, so that tail sampling's decisions pile up in the queue on disk;
// it comes back, and the gateway is stopped at once. Upstream's persistent
// queue stops reading at the exporter's shutdown and keeps its items on
// disk; exportguard's drain holds the stop until the queue is empty.
func TestGatewayStopDeliversItsDiskQueue(t *testing.T) {
	const traces, spans = 2000, 5
	// No stickycheck drain (its 5 s would let the exporter empty the queue
	// before exportguard's turn): this test is about the queue's drain.
	topo, sink := gatewayAndSink(t, "127.0.152", map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s", "STICKYCHECK_DRAIN": "0s"})
	gw := startMember(t, topo.Gateways[0])
	sink.Stop()

	ids := sendTraces(t, topo.Gateways[0].Addr(localtopo.PortOTLPGRPC), 152, traces, spans, 100)
	queued := waitQueued(t, topo.Gateways[0], 30*time.Second)
	time.Sleep(3 * time.Second) // every decision taken, every batch in the queue
	startMember(t, topo.Sink)
	took := stopAndWait(t, gw, 60*time.Second)

	lost, dup := tally(readSink(t, topo.SinkFile), ids, spans)
	t.Logf("stop with the queue at %0.f (its sizer's unit): exited after %s; %d of %d spans lost, %d duplicated", queued, took, lost, traces*spans, dup)
	assert.Zero(t, lost, "every span of the disk queue delivered before the exit")
	assert.Less(t, took, 25*time.Second, "within the drain timeout (20s) and the grace period")
	log, err := os.ReadFile(topo.Gateways[0].LogFile)
	require.NoError(t, err)
	assert.Contains(t, string(log), "Export queue drained before the exporter stops")
}

// Issue 15, part 2: SIGKILL a gateway whose disk queue holds tail sampling's
// decisions (the backend is down), restart it with the same volume: every
// span the queue had accepted reaches the sink. The traces still waiting
// for their decision in tail sampling's memory are lost — inherent to a
// kill; the test counts them apart.
func TestGatewayKilledDeliversItsDiskQueueAfterRestart(t *testing.T) {
	const traces, spans = 2000, 5
	topo, sink := gatewayAndSink(t, "127.0.153", map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "3s"})
	gw := startMember(t, topo.Gateways[0])
	sink.Stop()
	endpoint := topo.Gateways[0].Addr(localtopo.PortOTLPGRPC)

	accepted := sendTraces(t, endpoint, 153, traces, spans, 100)
	waitQueued(t, topo.Gateways[0], 30*time.Second)
	time.Sleep(5 * time.Second) // decision_wait passed: all of them decided, in the queue
	// Under load at the kill: these wait for their decision in memory.
	held := sendTraces(t, endpoint, 1530, 500, spans, 100)
	gw.Kill()

	startMember(t, topo.Sink)
	startMember(t, topo.Gateways[0]) // same FILE_STORAGE_DIR
	got := waitDelivered(t, topo.SinkFile, accepted, spans, 60*time.Second)
	lost, dup := tally(got, accepted, spans)
	heldLost, _ := tally(got, held, spans)
	t.Logf("SIGKILL with %d spans in the disk queue and %d in tail sampling's memory: queued spans lost %d, duplicated %d; in-memory spans lost %d",
		traces*spans, len(held)*spans, lost, dup, heldLost)
	assert.Zero(t, lost, "every span in the disk queue delivered after the restart")
	assert.Equal(t, fmt.Sprint(len(held)*spans), fmt.Sprint(heldLost), "what tail sampling held in memory is what a kill loses (none of it reached the sink)")
}

// Issue 15, bad input: a queue directory that cannot be created or written
// stops the gateway at start with an error naming the directory — once,
// not in a loop, and not a hang.
func TestGatewayWithAnUnwritableQueueDirectoryFailsAtStart(t *testing.T) {
	topo, _ := gatewayAndSink(t, "127.0.154", nil)
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	require.NoError(t, os.WriteFile(blocker, []byte("a file where the queue's parent directory should be"), 0o600))
	m := topo.Gateways[0]
	m.Env["FILE_STORAGE_DIR"] = filepath.Join(blocker, "queue")
	p, err := localtopo.StartProcess(context.Background(), testbed.Binary(t), m)
	if err == nil {
		p.Kill()
		t.Fatal("the gateway became healthy with an unusable queue directory")
	}
	log, _ := os.ReadFile(m.LogFile)
	assert.Contains(t, string(log), filepath.Join(blocker, "queue"), "the error names the directory")
	assert.Contains(t, string(log), "file_storage", "and the extension")
	t.Logf("start error: %v", lastLines(string(log), 3))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Issue 15, bad input: a truncated queue file (bbolt, below its minimum
// size) stops the gateway at start with the storage's error and the
// exporter that owns the file — it exits, it does not hang.
func TestGatewayWithATruncatedQueueFileFailsAtStart(t *testing.T) {
	topo, _ := gatewayAndSink(t, "127.0.155", nil)
	m := topo.Gateways[0]
	gw := startMember(t, m)
	stopAndWait(t, gw, 60*time.Second)
	file := filepath.Join(m.Env["FILE_STORAGE_DIR"], "exporter_otlp_grpc_backend_traces")
	require.FileExists(t, file, "the traces queue's bbolt file")
	require.NoError(t, os.Truncate(file, 5000))

	p, err := localtopo.StartProcess(context.Background(), testbed.Binary(t), m)
	if err == nil {
		p.Kill()
		t.Fatal("the gateway became healthy with a truncated queue file")
	}
	log, _ := os.ReadFile(m.LogFile)
	assert.Contains(t, string(log), `failed to start "otlp_grpc/backend" exporter`)
	assert.Contains(t, string(log), "file size too small 5000")
	t.Logf("start error: %v", lastLines(string(log), 1))
}

// Issue 15, part 5: what an agent loses when it stops or is killed right
// after it accepted a burst. Its load-balancing queue is in memory: a stop
// (SIGTERM) drains it to the gateways; a kill loses what its batch and queue
// held. The test asserts the stop and measures the kill.
func TestAgentStoppedOrKilledAfterABurst(t *testing.T) {
	const traces, spans = 2000, 5
	topo, err := localtopo.Plan(localtopo.Options{
		Net: "127.0.157", Gateways: 1, ConfigDir: filepath.Join(testbed.RepoRoot(), "configs"), WorkDir: t.TempDir(),
		Env: map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"},
	})
	require.NoError(t, err)
	require.NoError(t, localtopo.CheckPortsFree(topo.Members()))
	startMember(t, topo.Sink)
	startMember(t, topo.Gateways[0])

	burst := func(seed uint64, stop func(*localtopo.Process)) (lost, dup int) {
		agent := startMember(t, topo.Agent)
		ids := sendTraces(t, topo.Agent.Addr(localtopo.PortOTLPGRPC), seed, traces, spans, 100)
		stop(agent)
		time.Sleep(5 * time.Second) // decision_wait, batch and export behind the gateway
		return tally(readSink(t, topo.SinkFile), ids, spans)
	}
	lostStop, dupStop := burst(1570, func(p *localtopo.Process) { stopAndWait(t, p, 30*time.Second) })
	lostKill, dupKill := burst(1571, func(p *localtopo.Process) { p.Kill() })
	t.Logf("agent after a burst of %d spans: SIGTERM lost %d, duplicated %d; SIGKILL lost %d, duplicated %d",
		traces*spans, lostStop, dupStop, lostKill, dupKill)
	assert.Zero(t, lostStop, "a stopping agent drains its in-memory queue to the gateways")
}

// Issue 15, part 5, the opt-in: with configs/overlays/agent-persistent-queue.yaml an
// agent killed right after a burst sends it when it starts again with the
// same queue directory.
func TestAgentWithPersistentQueueKilledAfterABurstDeliversOnRestart(t *testing.T) {
	const traces, spans = 2000, 5
	topo, err := localtopo.Plan(localtopo.Options{
		Net: "127.0.158", Gateways: 1, ConfigDir: filepath.Join(testbed.RepoRoot(), "configs"), WorkDir: t.TempDir(),
		Env: map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"},
	})
	require.NoError(t, err)
	require.NoError(t, localtopo.CheckPortsFree(topo.Members()))
	startMember(t, topo.Sink)
	startMember(t, topo.Gateways[0])
	agent := topo.Agent
	agent.Overlays = []string{filepath.Join(testbed.RepoRoot(), "configs", "overlays", "agent-persistent-queue.yaml")}
	agent.Env["AGENT_QUEUE_DIR"] = filepath.Join(t.TempDir(), "agent-queue")

	p := startMember(t, agent)
	ids := sendTraces(t, agent.Addr(localtopo.PortOTLPGRPC), 1580, traces, spans, 100)
	p.Kill()
	startMember(t, agent)
	lost, dup := tally(waitDelivered(t, topo.SinkFile, ids, spans, 30*time.Second), ids, spans)
	t.Logf("agent with a persistent queue, SIGKILL after a burst of %d spans, restarted: lost %d, duplicated %d", traces*spans, lost, dup)
	assert.Zero(t, lost, "every span the agent accepted is sent after its restart")
}
