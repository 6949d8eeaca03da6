package compose

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Exporter series of the gateways' disk queues read by the outage test.
var queueCounters = map[string]seriesKey{
	"queue_size":     {"otelcol_exporter_queue_size", map[string]string{"data_type": "traces"}},
	"enqueue_failed": {"otelcol_exporter_enqueue_failed_spans", nil},
	"sent":           {"otelcol_exporter_sent_spans", map[string]string{"exporter": "otlp_grpc/backend"}},
}

// Issue 15, part 3: the backend (the sink) is stopped for 2 minutes while the
// agent receives 1,000 spans/s; the gateways' shipped disk queues hold the
// outage and every span reaches the sink after it returns, counted at the
// sink by trace and span ID. Replaces the loopback test of the same outage:
// this one runs the shipped compose topology (agent → 3 gateways → sink).
func backendOutage(t *testing.T, s *stack) {
	const (
		tick     = 100 * time.Millisecond
		perTick  = 25 // traces of spansPerTrace spans: 1,000 spans/s
		lead     = 10 * time.Second
		outage   = 2 * time.Minute
		duration = 150 * time.Second
	)
	maxTraces := int(duration/tick) * perTick
	ctx := context.Background()
	start := s.gatewayCounters(queueCounters)
	l := startLoad(t, s.agentOTLP(), 74, perTick, tick, 10, maxTraces)
	loadStart := time.Now()

	time.Sleep(lead)
	out, err := s.compose.Run(ctx, "stop", "sink")
	require.NoError(t, err, string(out))
	stoppedAt := time.Now()
	// The sink truncates its file when it starts (the file exporter without
	// append): keep what it wrote before the outage.
	before := s.sinkFile + ".before-outage"
	require.NoError(t, os.Rename(s.sinkFile, before))
	// Whatever happens below, the backend comes back for the next subtest.
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		out, err := s.compose.Run(ctx, "start", "sink")
		require.NoError(t, err, string(out))
	}
	defer restart()

	time.Sleep(time.Until(stoppedAt.Add(outage)))
	during := s.gatewayCounters(queueCounters)
	restart()
	backAt := time.Now()

	// The load ends at duration (or after maxTraces traces): on a busy
	// machine its ticks can fall behind, so the rate reached is measured.
	time.Sleep(time.Until(loadStart.Add(duration)))
	l.stop()
	loadEnd := time.Now()
	retries, refused := l.stats()
	sent := l.sent()
	inOutage := 0
	for i := range sent {
		if first, _ := l.sentAt(i); first.After(stoppedAt) && first.Before(backAt) {
			inOutage++
		}
	}
	// Up to about 2 minutes after the sink is back a gateway may still be
	// waiting to resolve its name again: Docker's DNS drops a stopped
	// container's name, and gRPC's dns resolver backs off (to 2 min) while
	// the name does not resolve. (A Kubernetes Service's name stays.)
	rep := waitSinkFiles(t, []string{before, s.sinkFile}, sent, 150*time.Second, 4*time.Minute)
	delivered := time.Since(backAt)
	end := s.gatewayCounters(queueCounters)
	lost := 0
	for _, spans := range rep.missing {
		lost += len(spans)
	}
	rate := float64(len(sent)*spansPerTrace) / loadEnd.Sub(loadStart).Seconds()
	t.Logf("backend down %s (from +%s) at %d spans/s (reached: %.0f spans/s) through the agent: %d traces (%d spans) sent, %d spans during the outage, %d requests retried, %d refused; "+
		"gateways' queues at the end of the outage: %.0f bytes of requests; enqueue_failed %.0f; %.0fs after it returned the sink had: "+
		"%d spans lost of %d traces, %d duplicated",
		outage, lead, perTick*spansPerTrace*int(time.Second/tick), rate, len(sent), len(sent)*spansPerTrace, inOutage*spansPerTrace, retries, len(refused),
		during["queue_size"], end["enqueue_failed"]-start["enqueue_failed"], delivered.Seconds(),
		lost, len(rep.missing), rep.duplicates)

	require.Emptyf(t, refused, "requests the agent never accepted")
	// At least half the target rate through the outage (the ticks of a busy
	// machine fall behind; the count at the sink is what is asserted).
	assert.Greater(t, inOutage*spansPerTrace, int(outage.Seconds())*500, "spans sent during the outage")
	assert.Positive(t, during["queue_size"], "the gateways' disk queues held the outage")
	assert.Zero(t, end["enqueue_failed"]-start["enqueue_failed"], "no request refused by a full queue")
	assert.Emptyf(t, rep.missing, "%s", rep.describe())
}
