package loadgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func decode(t *testing.T, b []byte) ptraceotlp.ExportRequest {
	t.Helper()
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(b))
	return req
}

func TestTemplateFillsEachRequestWithItsOwnTraces(t *testing.T) {
	shape := Shape{SpansPerTrace: 4, TracesPerRequest: 7, Attributes: 3, AttributeSize: 10, Services: 2}
	tmpl, err := NewTemplate(shape, 42)
	require.NoError(t, err)
	buf := tmpl.NewBuffer()

	for _, seq := range []uint64{0, 1, 1000} {
		tmpl.Fill(buf, seq)
		td := decode(t, buf).Traces()
		require.Equal(t, 28, td.SpanCount())
		require.Equal(t, 2, td.ResourceSpans().Len(), "spans spread over the services")
		want := map[pcommon.TraceID]bool{}
		for j := range uint64(7) {
			want[pcommon.TraceID(TraceID(42, seq*7+j))] = true
		}
		got := map[pcommon.TraceID]map[pcommon.SpanID]bool{}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			assert.Contains(t, []string{"loadgen-0", "loadgen-1"}, svc.Str())
			spans := rs.ScopeSpans().At(0).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				require.Truef(t, want[s.TraceID()], "request %d holds trace %s, not one of its own", seq, s.TraceID())
				if got[s.TraceID()] == nil {
					got[s.TraceID()] = map[pcommon.SpanID]bool{}
				}
				got[s.TraceID()][s.SpanID()] = true
				assert.Equal(t, 3, s.Attributes().Len())
				v, _ := s.Attributes().Get("attr.2")
				assert.Len(t, v.Str(), 10)
				if !s.ParentSpanID().IsEmpty() {
					assert.Equal(t, spanID(0), s.ParentSpanID(), "children hang off the root")
				}
			}
		}
		require.Len(t, got, 7)
		for id, spans := range got {
			assert.Lenf(t, spans, 4, "trace %s: distinct spans", id)
		}
	}
}

func TestTemplateIsReproducibleFromTheSeed(t *testing.T) {
	shape := Shape{SpansPerTrace: 5, TracesPerRequest: 20, Attributes: 4, AttributeSize: 16, Services: 1}
	a, err := NewTemplate(shape, 7)
	require.NoError(t, err)
	b, err := NewTemplate(shape, 7)
	require.NoError(t, err)
	c, err := NewTemplate(shape, 8)
	require.NoError(t, err)
	ba, bb, bc := a.NewBuffer(), b.NewBuffer(), c.NewBuffer()
	a.Fill(ba, 3)
	b.Fill(bb, 3)
	c.Fill(bc, 3)
	ta, tb, tc := decode(t, ba).Traces(), decode(t, bb).Traces(), decode(t, bc).Traces()
	spanA := ta.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	spanB := tb.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	spanC := tc.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, spanA.TraceID(), spanB.TraceID())
	assert.Equal(t, spanA.Attributes().AsRaw(), spanB.Attributes().AsRaw(), "attribute values come from the seed")
	assert.NotEqual(t, spanA.TraceID(), spanC.TraceID(), "another seed, other traces")
}

func TestShapeValidateNamesTheField(t *testing.T) {
	err := Shape{SpansPerTrace: 0, TracesPerRequest: 1, Services: 0, Attributes: -1}.Validate()
	assert.ErrorContains(t, err, "spans-per-trace: must be at least 1 (got 0)")
	assert.ErrorContains(t, err, "services: must be at least 1 (got 0)")
	assert.ErrorContains(t, err, "attributes: must not be negative (got -1)")
	_, err = NewTemplate(Shape{SpansPerTrace: 1000, TracesPerRequest: 1001, Services: 1}, 1)
	assert.ErrorContains(t, err, "more than 1,000,000")
}

func TestTraceIDsAreDistinctAndNeverZero(t *testing.T) {
	seen := make(map[[16]byte]uint64, 1<<20)
	for n := range uint64(1 << 20) {
		id := TraceID(99, n)
		require.NotEqual(t, [16]byte{}, id)
		prev, dup := seen[id]
		require.Falsef(t, dup, "indices %d and %d share an ID", prev, n)
		seen[id] = n
	}
	assert.Equal(t, TraceID(1, 5), TraceID(1, 5))
	assert.NotEqual(t, TraceID(1, 5), TraceID(2, 5))
}

func BenchmarkFill(b *testing.B) {
	tmpl, err := NewTemplate(DefaultConfig().Shape, 1)
	require.NoError(b, err)
	buf := tmpl.NewBuffer()
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		tmpl.Fill(buf, seq)
		seq++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tmpl.Shape().Spans()), "ns/span")
}
