package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// onSmallFilesystem returns a command prefix that runs the collector in its
// own mount namespace with a tmpfs of size mounted at dir: a full disk for
// its queue without root on the host (an unprivileged user namespace).
func onSmallFilesystem(t *testing.T, dir, size string) []string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	prefix := []string{"unshare", "--mount", "--map-root-user", "--", "sh", "-c", `mount -t tmpfs -o size=` + size + ` tmpfs "$0" && exec "$@"`, dir}
	probe := append(append([]string(nil), prefix...), "true")
	if out, err := exec.Command(probe[0], probe[1:]...).CombinedOutput(); err != nil {
		// This machine and CI allow it; a machine without user namespaces
		// (or util-linux's unshare) cannot make a full filesystem for a
		// user, and says so.
		t.Skipf("SKIPPED, not passed: cannot mount a size-limited tmpfs in a user namespace (unshare, from util-linux; kernel.unprivileged_userns_clone): %v: %s", err, out)
	}
	return prefix
}

// Issue 15, bad input: the queue's filesystem is full (a 2 MiB tmpfs) while
// the backend is down. The gateway keeps running — no crash, no restart
// loop, no hang: it stays healthy and answers — logs the write error and
// counts what it could not queue in otelcol_exporter_enqueue_failed_spans;
// what it did queue arrives when the backend returns (counted at the sink).
// Measured, not asserted: in some runs accepted spans are lost uncounted.
func TestGatewayWithAFullQueueFilesystem(t *testing.T) {
	const traces, spans, per = 10000, 5, 200
	topo, sink := gatewayAndSink(t, "127.0.160", map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"})
	gw := topo.Gateways[0]
	gw.Prefix = onSmallFilesystem(t, gw.Env["FILE_STORAGE_DIR"], "2m")
	p := startMember(t, gw)
	sink.Stop()

	o := offer(t, gw.Addr(localtopo.PortOTLPGRPC), 160, traces, spans, per, 50*time.Millisecond)
	time.Sleep(3 * time.Second)
	select {
	case <-p.Exited():
		t.Fatalf("the gateway exited with its queue's filesystem full: %v\n%s", p.Err(), lastLines(readLog(t, gw), 10))
	default:
	}
	m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
	require.NoError(t, err, "the gateway answers with its queue's filesystem full")
	_, ok := sumMetric(m, "otelcol_exporter_enqueue_failed_spans", nil)
	require.True(t, ok, "the gateway publishes otelcol_exporter_enqueue_failed_spans")

	startMember(t, topo.Sink)
	// Until every accepted span not counted as dropped arrived, or nothing
	// new arrived for 15 s (a minute at most).
	deadline := time.Now().Add(60 * time.Second)
	lastLost, lastChange := -1, time.Now()
	for {
		lost, _ := tally(readSink(t, topo.SinkFile), o.accepted, spans)
		failed := enqueueFailed(t, gw)
		if lost != lastLost {
			lastLost, lastChange = lost, time.Now()
		}
		if float64(lost) <= failed || time.Since(lastChange) > 15*time.Second || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Second)
	lost, dup := tally(readSink(t, topo.SinkFile), o.accepted, spans)
	failed := enqueueFailed(t, gw)
	end, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	stuck := end.Sum("otelcol_exporter_queue_size", map[string]string{"data_type": "traces"})
	sendFailed, _ := sumMetric(end, "otelcol_exporter_send_failed_spans", nil)
	t.Logf("at the end: traces queue size %.0f (bytes), send_failed_spans %.0f", stuck, sendFailed)
	log := readLog(t, gw)
	t.Logf("queue on a full 2 MiB filesystem, backend down: %d spans offered; refused to the sender %d (%v); accepted %d, delivered %d, lost %d (enqueue_failed_spans %.0f); duplicated %d; %d log lines name the full disk",
		traces*spans, len(o.refused)*spans, o.codes, len(o.accepted)*spans, len(o.accepted)*spans-lost, lost, failed, dup, strings.Count(log, "no space left on device"))

	assert.Positive(t, failed, "the full filesystem made the queue refuse requests")
	// Measured, not asserted (as an agent's kill in queue_test.go): in some
	// runs accepted spans neither arrive nor are counted as dropped — lost
	// silently on the full filesystem inside upstream's persistent queue
	// (README, "Faults survived"). The test asserts what holds in every run.
	if silent := float64(lost) - failed; silent > 0 {
		t.Logf("SILENT LOSS: %.0f accepted spans neither arrived (15s without a new span at the sink) after the backend's return nor were counted in enqueue_failed_spans (queue size at the end: %.0f bytes)", silent, stuck)
	}
	assert.LessOrEqual(t, failed, float64(lost), "no span counted as dropped arrived")
	assert.Contains(t, log, "no space left on device", "the error is logged")
	assert.Zero(t, dup, "no duplicates")
}

func readLog(t *testing.T, m localtopo.Member) string {
	t.Helper()
	b, err := os.ReadFile(m.LogFile)
	require.NoError(t, err)
	return string(b)
}
