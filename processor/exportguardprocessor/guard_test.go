package exportguardprocessor

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadatatest"
)

// traces builds one resource with one scope holding a span of payload
// bytes (in an attribute) per entry of sizes; span i has trace ID i+1.
func traces(sizes ...int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "guarded")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	for i, n := range sizes {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{byte(i + 1)})
		s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		s.SetName("span")
		s.Attributes().PutStr("payload", strings.Repeat("x", n))
	}
	return td
}

// aloneSize is the request size of one span alone, computed the slow way:
// a request holding just that span.
func aloneSize(td ptrace.Traces, i int) int {
	one := ptrace.NewTraces()
	rs := td.ResourceSpans().At(0)
	ors := one.ResourceSpans().AppendEmpty()
	rs.Resource().CopyTo(ors.Resource())
	oss := ors.ScopeSpans().AppendEmpty()
	rs.ScopeSpans().At(0).Scope().CopyTo(oss.Scope())
	rs.ScopeSpans().At(0).Spans().At(i).CopyTo(oss.Spans().AppendEmpty())
	var m ptrace.ProtoMarshaler
	return m.TracesSize(one)
}

func newTestGuard(t *testing.T, maxBytes int64) (*consumertest.TracesSink, func(ptrace.Traces) error, *componenttest.Telemetry, *observer.ObservedLogs) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zap.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := new(consumertest.TracesSink)
	cfg := &Config{MaxSpanBytes: maxBytes}
	p, err := NewFactory().CreateTraces(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return sink, func(td ptrace.Traces) error { return p.ConsumeTraces(context.Background(), td) }, tel, logs
}

func traceIDs(sink *consumertest.TracesSink) map[byte]bool {
	out := map[byte]bool{}
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			for j := 0; j < td.ResourceSpans().At(i).ScopeSpans().Len(); j++ {
				spans := td.ResourceSpans().At(i).ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					out[spans.At(k).TraceID()[0]] = true
				}
			}
		}
	}
	return out
}

// The limit is exact: a span whose request alone is limit bytes passes, one
// byte more is dropped — and only that span.
func TestGuardDropsOnlyTheSpanTooLargeAlone(t *testing.T) {
	td := traces(100, 5000, 100, 5001, 100)
	limit := aloneSize(td, 1)
	require.Equal(t, limit+1, aloneSize(td, 3), "the fixture: span 4 is one byte larger alone than span 2")

	sink, consume, tel, logs := newTestGuard(t, int64(limit))
	require.NoError(t, consume(td))
	assert.Equal(t, map[byte]bool{1: true, 2: true, 3: true, 5: true}, traceIDs(sink), "every span but the fourth")

	metadatatest.AssertEqualProcessorExportguardSpansDropped(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attrReason("too_large"), Value: 1,
	}}, metricdatatestIgnore()...)
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, int64(limit+1), logs.All()[0].ContextMap()["largest_bytes"])
}

func TestGuardPassesARequestWithinTheLimitUntouched(t *testing.T) {
	sink, consume, tel, logs := newTestGuard(t, 1<<20)
	require.NoError(t, consume(traces(100, 200, 300)))
	assert.Equal(t, 3, sink.SpanCount())
	assert.Zero(t, logs.Len())
	_, err := tel.GetMetric("otelcol_processor_exportguard_spans_dropped")
	assert.Error(t, err, "nothing dropped, nothing counted")
}

// The 10 × 600 KB + 1 small case of issue 15 with a 500 KB limit: the
// large ones go (each alone), the small one stays; nothing is sent when all
// of a request is dropped.
func TestGuardDropsManyLargeKeepsTheSmall(t *testing.T) {
	sink, consume, tel, _ := newTestGuard(t, 500_000)
	sizes := make([]int, 11)
	for i := range 10 {
		sizes[i] = 600_000
	}
	sizes[10] = 50
	require.NoError(t, consume(traces(sizes...)))
	assert.Equal(t, map[byte]bool{11: true}, traceIDs(sink))

	require.NoError(t, consume(traces(600_000)))
	assert.Len(t, sink.AllTraces(), 1, "a request left empty is not passed on")
	metadatatest.AssertEqualProcessorExportguardSpansDropped(t, tel, []metricdata.DataPoint[int64]{{
		Attributes: attrReason("too_large"), Value: 11,
	}}, metricdatatestIgnore()...)
}

func attrReason(r string) attribute.Set { return attribute.NewSet(attribute.String("reason", r)) }

func metricdatatestIgnore() []metricdatatest.Option {
	return []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}
}
