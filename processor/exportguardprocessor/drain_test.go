package exportguardprocessor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pipeline"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// queueServer serves otelcol_exporter_queue_size as the collector's
// Prometheus reader does, for otlp_grpc/backend's traces queue, counting
// down by one at each scrape from start (stuck: never down).
func queueServer(t *testing.T, start int64, stuck bool) (addr string, scrapes *atomic.Int64) {
	t.Helper()
	scrapes = new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := scrapes.Add(1) - 1
		size := max(start-n, 0)
		if stuck {
			size = start
		}
		fmt.Fprintf(w, "# HELP otelcol_exporter_queue_size Current size of the retry queue (in batches).\n# TYPE otelcol_exporter_queue_size gauge\n")
		fmt.Fprintf(w, "otelcol_exporter_queue_size{data_type=\"metrics\",exporter=\"otlp_grpc/backend\"} 7\n")
		fmt.Fprintf(w, "otelcol_exporter_queue_size{data_type=\"traces\",exporter=\"otlp_grpc/backend\"} %d\n", size)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), scrapes
}

func testDrainer(t *testing.T, addr string, signal pipeline.Signal, timeout time.Duration) (*drainer, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	d := newDrainer(component.MustNewIDWithName("exportguard", t.Name()), DrainConfig{
		Exporter:        component.MustNewIDWithName("otlp_grpc", "backend"),
		MetricsEndpoint: addr,
		Timeout:         timeout,
		PollInterval:    time.Millisecond,
	}, signal, zap.New(core))
	return d, logs
}

func TestDrainWaitsUntilTheQueueIsEmpty(t *testing.T) {
	addr, scrapes := queueServer(t, 5, false)
	d, logs := testDrainer(t, addr, pipeline.SignalTraces, time.Minute)
	d.wait(context.Background())
	assert.EqualValues(t, 6, scrapes.Load(), "5, 4, 3, 2, 1, then 0")
	assert.Equal(t, 1, logs.FilterMessage("Export queue drained before the exporter stops").Len())
}

func TestDrainReadsItsOwnSignalsQueue(t *testing.T) {
	addr, _ := queueServer(t, 0, false)
	d, logs := testDrainer(t, addr, pipeline.SignalTraces, time.Minute)
	d.wait(context.Background())
	assert.Zero(t, logs.FilterMessage("Waiting for the export queue to drain before the exporter stops").Len(), "the traces queue is empty; the metrics queue (7) is not this instance's")
}

func TestDrainGivesUpAtTheTimeoutAndSaysWhatIsLeft(t *testing.T) {
	addr, _ := queueServer(t, 3, true)
	d, logs := testDrainer(t, addr, pipeline.SignalTraces, 50*time.Millisecond)
	d.wait(context.Background())
	left := logs.FilterMessageSnippet("not drained within drain::timeout").All()
	require.Len(t, left, 1)
	assert.InDelta(t, 3.0, left[0].ContextMap()["queue_size_left"], 0)
}

// A queue that publishes no size (wrong exporter, no sending queue) ends the
// wait at once, with an error, instead of spending the grace period.
func TestDrainWithoutAQueueMetricSaysSoAndDoesNotWait(t *testing.T) {
	addr, scrapes := queueServer(t, 3, true)
	d, logs := testDrainer(t, addr, pipeline.SignalLogs, time.Hour)
	d.wait(context.Background())
	assert.EqualValues(t, 1, scrapes.Load())
	errs := logs.FilterMessageSnippet("Cannot read the export queue's size").All()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].ContextMap()["error"], "no otelcol_exporter_queue_size")
}

func TestDrainUnreachableEndpointDoesNotWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	d, logs := testDrainer(t, addr, pipeline.SignalTraces, time.Hour)
	d.wait(context.Background())
	assert.Equal(t, 1, logs.FilterMessageSnippet("Cannot read the export queue's size").Len())
}

func TestDrainStopsWhenTheStopContextEnds(t *testing.T) {
	d, _ := testDrainer(t, "127.0.0.1:1", pipeline.SignalTraces, time.Hour)
	d.queued = func(context.Context) (float64, error) { return 1, nil }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { d.wait(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(errors.New("wait ignored the stop context"))
	}
}

// Three pipelines, three instances of one exportguard: the second waits only
// what is left of the first one's timeout.
func TestDrainInstancesOfOneIDShareTheDeadline(t *testing.T) {
	addr, _ := queueServer(t, 3, true)
	first, _ := testDrainer(t, addr, pipeline.SignalTraces, 200*time.Millisecond)
	second, _ := testDrainer(t, addr, pipeline.SignalTraces, 200*time.Millisecond)
	t.Cleanup(func() { forgetStopDeadline(first.id) })
	w1 := first.wait(context.Background())
	w2 := second.wait(context.Background())
	assert.GreaterOrEqual(t, w1, 150*time.Millisecond)
	assert.Less(t, w2, 100*time.Millisecond, "the deadline had passed")
	forgetStopDeadline(first.id)
	assert.GreaterOrEqual(t, second.wait(context.Background()), 150*time.Millisecond, "a new start, a new deadline")
}
