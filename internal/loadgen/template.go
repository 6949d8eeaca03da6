package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Shape is what one export request holds.
type Shape struct {
	// SpansPerTrace spans of each trace are in the same request: one root and
	// its children.
	SpansPerTrace int
	// TracesPerRequest traces of consecutive indices make one request.
	TracesPerRequest int
	// Attributes string attributes of AttributeSize bytes on every span.
	Attributes    int
	AttributeSize int
	// Services resources (service.name) the spans of a request are spread over.
	Services int
}

// Spans is the number of spans in one request.
func (s Shape) Spans() int { return s.SpansPerTrace * s.TracesPerRequest }

// Validate names the first field out of range.
func (s Shape) Validate() error {
	var errs []error
	if s.SpansPerTrace < 1 {
		errs = append(errs, fmt.Errorf("spans-per-trace: must be at least 1 (got %d)", s.SpansPerTrace))
	}
	if s.TracesPerRequest < 1 {
		errs = append(errs, fmt.Errorf("traces-per-request: must be at least 1 (got %d)", s.TracesPerRequest))
	}
	if s.Attributes < 0 {
		errs = append(errs, fmt.Errorf("attributes: must not be negative (got %d)", s.Attributes))
	}
	if s.AttributeSize < 0 {
		errs = append(errs, fmt.Errorf("attribute-size: must not be negative (got %d)", s.AttributeSize))
	}
	if s.Services < 1 {
		errs = append(errs, fmt.Errorf("services: must be at least 1 (got %d)", s.Services))
	}
	if s.Spans() > 1_000_000 {
		errs = append(errs, fmt.Errorf("spans per request: %d × %d is more than 1,000,000", s.SpansPerTrace, s.TracesPerRequest))
	}
	return errors.Join(errs...)
}

// Template is one serialised ExportTraceServiceRequest whose trace IDs are
// rewritten in place for each request of a run.
type Template struct {
	shape Shape
	seed  uint64
	proto []byte
	// offsets[j] holds the byte offsets of trace j's ID, one per span.
	offsets [][]int
}

// NewTemplate builds and serialises a request of the shape. The seed gives
// the attribute values and, through TraceID, every trace ID of the run.
func NewTemplate(shape Shape, seed uint64) (*Template, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909))
	// Each trace is built with a random placeholder ID, found afterwards in
	// the serialised bytes. A 16-byte random string does not occur by chance.
	placeholders := make([][16]byte, shape.TracesPerRequest)
	for j := range placeholders {
		for k := 0; k < 16; k += 8 {
			v := rng.Uint64() | 0x8080808080808080 // never valid UTF-8 text: cannot match attribute bytes
			for b := range 8 {
				placeholders[j][k+b] = byte(v >> (8 * b))
			}
		}
	}
	td := build(shape, placeholders, rng)
	proto, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return nil, err
	}
	t := &Template{shape: shape, seed: seed, proto: proto, offsets: make([][]int, len(placeholders))}
	for j, ph := range placeholders {
		for from := 0; ; {
			i := bytes.Index(proto[from:], ph[:])
			if i < 0 {
				break
			}
			t.offsets[j] = append(t.offsets[j], from+i)
			from += i + len(ph)
		}
		if len(t.offsets[j]) != shape.SpansPerTrace {
			return nil, fmt.Errorf("internal: trace %d's ID found %d times in the request, want %d", j, len(t.offsets[j]), shape.SpansPerTrace)
		}
	}
	return t, nil
}

func build(shape Shape, ids [][16]byte, rng *rand.Rand) ptrace.Traces {
	td := ptrace.NewTraces()
	spansOf := make([]ptrace.SpanSlice, shape.Services)
	for i := range spansOf {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("loadgen-%d", i))
		rs.Resource().Attributes().PutStr("service.instance.id", fmt.Sprintf("loadgen-%d-0", i))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("otelcol-tiered/loadgen")
		spansOf[i] = ss.Spans()
	}
	value := func() string {
		b := make([]byte, shape.AttributeSize)
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
		}
		return string(b)
	}
	now := time.Now()
	for j, id := range ids {
		for k := range shape.SpansPerTrace {
			// The spans of a trace cross the services, the way a request does.
			s := spansOf[(j+k)%shape.Services].AppendEmpty()
			s.SetTraceID(id)
			s.SetSpanID(spanID(k))
			if k > 0 {
				s.SetParentSpanID(spanID(0))
				s.SetKind(ptrace.SpanKindInternal)
			} else {
				s.SetKind(ptrace.SpanKindServer)
			}
			s.SetName(fmt.Sprintf("operation-%d", k))
			start := now.Add(time.Duration(k) * time.Millisecond)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
			for a := range shape.Attributes {
				s.Attributes().PutStr(fmt.Sprintf("attr.%d", a), value())
			}
		}
	}
	return td
}

// SpanID is the ID of span k of every trace (span 0 is the root).
func spanID(k int) pcommon.SpanID {
	return pcommon.SpanID{0x10, 0, 0, 0, byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k) + 1}
}

// Shape is the shape the template was built with.
func (t *Template) Shape() Shape { return t.shape }

// Size is the request's size in bytes.
func (t *Template) Size() int { return len(t.proto) }

// NewBuffer returns a copy of the request to be filled by Fill.
func (t *Template) NewBuffer() []byte { return bytes.Clone(t.proto) }

// Fill writes into buf (from NewBuffer) the trace IDs of request seq: the
// traces of indices seq×TracesPerRequest onwards.
func (t *Template) Fill(buf []byte, seq uint64) {
	first := seq * uint64(t.shape.TracesPerRequest)
	for j, offs := range t.offsets {
		id := TraceID(t.seed, first+uint64(j))
		for _, o := range offs {
			copy(buf[o:o+16], id[:])
		}
	}
}
