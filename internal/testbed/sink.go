package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SinkSpan is one span the sink received, with the resource attribute the
// gateway that exported it added.
type SinkSpan struct {
	SpanID  pcommon.SpanID
	Gateway string
}

// ReadSinkSpans reads the sink's file (one OTLP/JSON document a line) and
// returns the spans it holds by trace ID. Lines of other signals are skipped.
// The sink may be writing while this reads: a last line without its newline
// is a write in progress and is left for the next read; a complete line that
// does not parse is an error.
func ReadSinkSpans(path string) (map[pcommon.TraceID][]SinkSpan, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[pcommon.TraceID][]SinkSpan{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[pcommon.TraceID][]SinkSpan{}
	var um ptrace.JSONUnmarshaler
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil // b, if any, is a line still being written
		}
		if err != nil {
			return out, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if !bytes.HasPrefix(b, []byte(`{"resourceSpans"`)) {
			continue
		}
		td, err := um.UnmarshalTraces(b)
		if err != nil {
			return out, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			gateway := ""
			if gw, ok := rs.Resource().Attributes().Get("otelcol.gateway"); ok {
				gateway = gw.AsString()
			}
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					s := spans.At(k)
					out[s.TraceID()] = append(out[s.TraceID()], SinkSpan{SpanID: s.SpanID(), Gateway: gateway})
				}
			}
		}
	}
}
