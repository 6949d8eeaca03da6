package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/status"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// smallQueueOverlay writes a config overlay that shrinks the gateway's disk
// queue to bytes (its sizer is bytes): the shipped gateway.yaml otherwise.
func smallQueueOverlay(t *testing.T, bytes string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "small-queue.yaml")
	require.NoError(t, os.WriteFile(path, []byte("exporters:\n  otlp_grpc/backend:\n    sending_queue:\n      queue_size: "+bytes+"\n"), 0o600))
	return path
}

// offered is what a sender offered a gateway: the traces of the requests it
// accepted, and those it refused, with the gRPC codes of the refusals.
type offered struct {
	accepted, refused []pcommon.TraceID
	codes             map[string]int
}

// offer sends n traces of spans spans, per traces a request, every gap,
// without retrying: each request is accepted or refused once.
func offer(t *testing.T, endpoint string, seed uint64, n, spans, per int, gap time.Duration) offered {
	t.Helper()
	sender, err := testbed.NewSender(endpoint)
	require.NoError(t, err)
	defer sender.Close()
	ids := testbed.TraceIDs(seed, n)
	o := offered{codes: map[string]int{}}
	for i := 0; i < n; i += per {
		batch := ids[i:min(i+per, n)]
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "queue", batch, 0, spans)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := sender.Send(ctx, td)
		cancel()
		if err != nil {
			o.refused = append(o.refused, batch...)
			o.codes[status.Code(err).String()]++
		} else {
			o.accepted = append(o.accepted, batch...)
		}
		time.Sleep(gap)
	}
	return o
}

// Issue 15, part 3, the queue full: a gateway whose disk queue is small
// (4 MiB instead of the shipped 3 GiB) receives, with the backend down,
// four times what its queue holds. Measured: what the sender was refused
// (gRPC errors), what the gateway accepted and the sink got after the
// backend returned, and what the gateway dropped when its queue was full.
// Asserted: nothing is dropped silently — every span accepted and not
// delivered is counted by the gateway in otelcol_exporter_enqueue_failed_spans.
func TestGatewayWithAFullDiskQueue(t *testing.T) {
	const (
		traces, spans, per = 20000, 5, 200
		queueBytes         = "4194304"
	)
	topo, sink := gatewayAndSink(t, "127.0.159", map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"})
	gw := topo.Gateways[0]
	gw.Overlays = []string{smallQueueOverlay(t, queueBytes)}
	startMember(t, gw)
	sink.Stop()

	o := offer(t, gw.Addr(localtopo.PortOTLPGRPC), 159, traces, spans, per, 50*time.Millisecond)
	time.Sleep(3 * time.Second) // the last decisions taken and batched
	m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	queued, ok := sumMetric(m, "otelcol_exporter_queue_size", map[string]string{"data_type": "traces"})
	require.True(t, ok, "the gateway publishes otelcol_exporter_queue_size")
	capacity, ok := sumMetric(m, "otelcol_exporter_queue_capacity", map[string]string{"data_type": "traces"})
	require.True(t, ok, "the gateway publishes otelcol_exporter_queue_capacity")
	_, ok = sumMetric(m, "otelcol_exporter_enqueue_failed_spans", nil)
	require.True(t, ok, "the gateway publishes otelcol_exporter_enqueue_failed_spans")
	refusedMem, _ := sumMetric(m, "otelcol_receiver_refused_spans", nil)

	startMember(t, topo.Sink)
	// Wait until the sink holds every accepted span the gateway did not
	// count as dropped (or a minute).
	deadline := time.Now().Add(60 * time.Second)
	for {
		lost, _ := tally(readSink(t, topo.SinkFile), o.accepted, spans)
		failed := enqueueFailed(t, gw)
		if float64(lost) <= failed || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(time.Second) // late duplicates
	got := readSink(t, topo.SinkFile)
	lost, dup := tally(got, o.accepted, spans)
	failed := enqueueFailed(t, gw)
	log, err := os.ReadFile(gw.LogFile)
	require.NoError(t, err)
	assert.Contains(t, string(log), "sending queue is full", "the drop is logged")
	refusedArrived := len(o.refused)*spans - func() int { l, _ := tally(got, o.refused, spans); return l }()
	t.Logf("queue of %s bytes full (size %.0f of capacity %.0f), backend down: %d spans offered; refused to the sender %d (%v; receiver_refused_spans %.0f); "+
		"accepted %d, of which delivered %d and lost %d (gateway's enqueue_failed_spans %.0f); duplicated %d; refused spans at the sink %d",
		queueBytes, queued, capacity, traces*spans, len(o.refused)*spans, o.codes, refusedMem,
		len(o.accepted)*spans, len(o.accepted)*spans-lost, lost, failed, dup, refusedArrived)

	assert.Positive(t, failed+float64(len(o.refused)), "the queue filled: requests were refused or dropped")
	assert.EqualValues(t, lost, failed, "every accepted span that did not arrive is counted as dropped by the gateway (nothing silent)")
	assert.Zero(t, refusedArrived, "a refused span does not reach the sink")
	assert.Zero(t, dup, "no duplicates")
}

// enqueueFailed reads the spans the gateway could not queue (it counts on
// while decisions and batches still reach the exporter).
func enqueueFailed(t *testing.T, gw localtopo.Member) float64 {
	t.Helper()
	m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	failed, ok := sumMetric(m, "otelcol_exporter_enqueue_failed_spans", nil)
	require.True(t, ok, "the gateway publishes otelcol_exporter_enqueue_failed_spans")
	return failed
}
