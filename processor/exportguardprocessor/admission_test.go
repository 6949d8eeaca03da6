package exportguardprocessor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadatatest"
)

// capacityServer serves otlp_grpc/backend's traces and logs queue size and
// capacity as the collector's Prometheus reader does; size is the traces
// queue's, settable.
func capacityServer(t *testing.T, capacity int64) (addr string, size *atomic.Int64) {
	t.Helper()
	size = new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE otelcol_exporter_queue_size gauge\n")
		fmt.Fprintf(w, "otelcol_exporter_queue_size{data_type=\"traces\",exporter=\"otlp_grpc/backend\"} %d\n", size.Load())
		fmt.Fprintf(w, "otelcol_exporter_queue_size{data_type=\"logs\",exporter=\"otlp_grpc/backend\"} 0\n")
		fmt.Fprintf(w, "# TYPE otelcol_exporter_queue_capacity gauge\n")
		fmt.Fprintf(w, "otelcol_exporter_queue_capacity{data_type=\"traces\",exporter=\"otlp_grpc/backend\"} %d\n", capacity)
		fmt.Fprintf(w, "otelcol_exporter_queue_capacity{data_type=\"logs\",exporter=\"otlp_grpc/backend\"} %d\n", capacity)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), size
}

func admissionConfig(addr string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Admission = configoptional.Some(AdmissionConfig{
		Exporter: component.MustNewIDWithName("otlp_grpc", "backend"), MetricsEndpoint: addr,
		HighWater: 0.8, PollInterval: 5 * time.Millisecond,
	})
	return cfg
}

// Above the high-water mark of its queue's capacity the processor refuses
// (a retryable error, counted); below it, it passes everything; both
// changes are logged.
func TestAdmissionRefusesAboveTheHighWaterMark(t *testing.T) {
	addr, size := capacityServer(t, 1000)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zap.InfoLevel)
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), set, admissionConfig(addr), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	var refused, accepted int
	send := func(spans int) error {
		sizes := make([]int, spans)
		for i := range sizes {
			sizes[i] = 10
		}
		err := p.ConsumeTraces(context.Background(), traces(sizes...))
		if err != nil {
			refused += spans
		} else {
			accepted += spans
		}
		return err
	}
	require.NoError(t, send(3), "an empty queue admits")

	size.Store(800)
	require.Eventually(t, func() bool { return send(2) != nil }, 5*time.Second, time.Millisecond)
	err = send(2)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "retryable: the sender retries it")
	assert.Contains(t, err.Error(), "export queue of otlp_grpc/backend (traces) above 80 % of its capacity")
	assert.Equal(t, 1, logs.FilterMessageSnippet("above its high-water mark").Len())

	size.Store(799)
	require.Eventually(t, func() bool { return send(1) == nil }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, logs.FilterMessageSnippet("below its high-water mark again").Len())

	assert.Equal(t, accepted, sink.SpanCount(), "what was admitted passed on")
	m, err := tel.GetMetric("otelcol_processor_exportguard_items_refused")
	require.NoError(t, err)
	var counted int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		counted += dp.Value
	}
	assert.EqualValues(t, refused, counted, "every refused span counted")
}

// Each signal watches its own queue: the logs queue is empty, so logs pass
// while traces would be refused.
func TestAdmissionWatchesItsSignalsQueue(t *testing.T) {
	addr, size := capacityServer(t, 1000)
	size.Store(1000)
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processorSettings(), admissionConfig(addr), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	time.Sleep(50 * time.Millisecond)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	assert.NoError(t, p.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, 1, sink.LogRecordCount())
}

// A queue that cannot be read admits everything; after the start-up's
// quiet readings it says so, once.
func TestAdmissionWithoutAReadableQueueAdmitsAndSaysSo(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	a := newAdmitter(AdmissionConfig{Exporter: component.MustNewID("otlp_grpc"), MetricsEndpoint: "127.0.0.1:1", HighWater: 0.8, PollInterval: time.Millisecond}, pipeline.SignalTraces, zap.New(core))
	a.over.Store(true)
	st := &readState{}
	for range quietFailures - 1 {
		a.check(context.Background(), st)
	}
	assert.False(t, a.over.Load(), "unreadable: admit")
	assert.Zero(t, logs.Len(), "quiet while the collector starts")
	for range 5 {
		a.check(context.Background(), st)
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("Cannot read the export queue's size: admitting everything").Len())
}

func processorSettings() processor.Settings {
	set := metadatatest.NewSettings(componenttest.NewTelemetry())
	set.ID = component.NewID(metadata.Type)
	return set
}
