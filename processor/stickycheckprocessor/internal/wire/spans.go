package wire // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"

import (
	"encoding/binary"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Forwarded spans, version 1 (documented in the README): one HTTP POST per
// batch of spans for one destination, big-endian header then the spans as
// an OTLP ExportTraceServiceRequest (protobuf), resources and scopes kept.
//
//	header, 16 bytes:
//	  magic     4  "SCKS"
//	  version   1  1
//	  hops      1  forwards so far, always 1: a forwarded span is never
//	               forwarded again
//	  reserved  2  0
//	  sender    8  ReplicaID of the sending replica, not 0
//	spans       the rest: OTLP protobuf, at least one span
const (
	SpansPath        = "/stickycheck/v1/spans"
	SpansContentType = "application/x-stickycheck-spans"
	spansMagic       = "SCKS"
	SpansVersion     = 1
	SpansHeaderSize  = 16
	// MaxSpansMessageLen bounds a forwarded message (the sender splits
	// larger batches; the receiver refuses larger bodies as oversized).
	MaxSpansMessageLen = 4 << 20
	// SpansHopLimit is the hops of every forwarded message.
	SpansHopLimit = 1
)

// Spans is one decoded message of forwarded spans.
type Spans struct {
	Sender uint64
	Traces ptrace.Traces
}

var spansMarshaler ptrace.ProtoMarshaler

// AppendSpans encodes td, forwarded by sender, onto buf.
func AppendSpans(buf []byte, sender uint64, td ptrace.Traces) ([]byte, error) {
	buf = append(buf, spansMagic...)
	buf = append(buf, SpansVersion, SpansHopLimit, 0, 0)
	buf = binary.BigEndian.AppendUint64(buf, sender)
	body, err := spansMarshaler.MarshalTraces(td)
	if err != nil {
		return buf, err
	}
	return append(buf, body...), nil
}

// DecodeSpans parses a message of forwarded spans; every error is an
// *Error with its counted reason.
func DecodeSpans(b []byte) (Spans, error) {
	var m Spans
	if len(b) > MaxSpansMessageLen {
		return m, &Error{Reason: RejectOversized, msg: fmt.Sprintf("%d bytes, at most %d", len(b), MaxSpansMessageLen)}
	}
	if len(b) < SpansHeaderSize {
		return m, malformed("%d bytes, shorter than the %d-byte header", len(b), SpansHeaderSize)
	}
	if string(b[:4]) != spansMagic {
		return m, malformed("not a stickycheck spans message (magic %q)", b[:4])
	}
	if b[4] != SpansVersion {
		return m, &Error{Reason: RejectUnsupportedVersion, msg: fmt.Sprintf("version %d, this replica speaks %d", b[4], SpansVersion)}
	}
	if b[5] != SpansHopLimit {
		return m, malformed("hops %d, want %d: a forwarded span is never forwarded again", b[5], SpansHopLimit)
	}
	if b[6] != 0 || b[7] != 0 {
		return m, malformed("reserved header bytes are %d %d, want 0", b[6], b[7])
	}
	m.Sender = binary.BigEndian.Uint64(b[8:16])
	if m.Sender == 0 {
		return m, malformed("sender is 0")
	}
	var u ptrace.ProtoUnmarshaler
	td, err := u.UnmarshalTraces(b[SpansHeaderSize:])
	if err != nil {
		return m, malformed("spans: %v", err)
	}
	if td.SpanCount() == 0 {
		return m, malformed("no spans")
	}
	m.Traces = td
	return m, nil
}
