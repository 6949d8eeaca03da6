package wire

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func sampleSpans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "cart")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("lib")
	ss.Scope().SetVersion("1.2")
	for i := range n {
		s := ss.Spans().AppendEmpty()
		var id pcommon.TraceID
		binary.BigEndian.PutUint64(id[8:], uint64(i+1))
		s.SetTraceID(id)
		s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		s.SetName("op")
	}
	return td
}

func TestSpansRoundTripKeepsResourceAndScope(t *testing.T) {
	b, err := AppendSpans(nil, 42, sampleSpans(5))
	require.NoError(t, err)
	m, err := DecodeSpans(b)
	require.NoError(t, err)
	assert.EqualValues(t, 42, m.Sender)
	require.Equal(t, 5, m.Traces.SpanCount())
	rs := m.Traces.ResourceSpans().At(0)
	name, _ := rs.Resource().Attributes().Get("service.name")
	assert.Equal(t, "cart", name.Str())
	assert.Equal(t, "lib", rs.ScopeSpans().At(0).Scope().Name())
	assert.Equal(t, "1.2", rs.ScopeSpans().At(0).Scope().Version())
}

func TestDecodeSpansRejectsWithAReason(t *testing.T) {
	valid, err := AppendSpans(nil, 42, sampleSpans(3))
	require.NoError(t, err)
	empty, err := AppendSpans(nil, 42, ptrace.NewTraces())
	require.NoError(t, err)
	edit := func(f func(b []byte)) []byte { b := slices.Clone(valid); f(b); return b }
	for name, tc := range map[string]struct {
		msg    []byte
		reason string
	}{
		"empty":       {nil, RejectMalformed},
		"short":       {valid[:9], RejectMalformed},
		"bad magic":   {edit(func(b []byte) { b[0] = 'X' }), RejectMalformed},
		"version 2":   {edit(func(b []byte) { b[4] = 2 }), RejectUnsupportedVersion},
		"hops 2":      {edit(func(b []byte) { b[5] = 2 }), RejectMalformed},
		"hops 0":      {edit(func(b []byte) { b[5] = 0 }), RejectMalformed},
		"reserved":    {edit(func(b []byte) { b[7] = 1 }), RejectMalformed},
		"zero sender": {edit(func(b []byte) { clear(b[8:16]) }), RejectMalformed},
		"garbage":     {append(slices.Clone(valid[:SpansHeaderSize]), 0xff, 0xff, 0xff), RejectMalformed},
		"no spans":    {empty, RejectMalformed},
		"oversized":   {make([]byte, MaxSpansMessageLen+1), RejectOversized},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeSpans(tc.msg)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.reason, pe.Reason, err.Error())
		})
	}
}

// The decoder never panics, names a known reason for every rejection, and
// what it accepts encodes back to a message it decodes to the same spans.
func FuzzDecodeSpans(f *testing.F) {
	for _, n := range []int{1, 3} {
		valid, _ := AppendSpans(nil, 42, sampleSpans(n))
		f.Add(valid)
		f.Add(valid[:len(valid)-1])
		v2 := slices.Clone(valid)
		v2[5] = 2
		f.Add(v2)
	}
	f.Add([]byte{})
	f.Add([]byte(spansMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSpans(b)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !slices.Contains(RejectReasons, pe.Reason) || pe.Reason == RejectUnauthenticated {
				t.Fatalf("rejection without a known reason: %v", err)
			}
			return
		}
		again, err := AppendSpans(nil, m.Sender, m.Traces)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		m2, err := DecodeSpans(again)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		if m2.Traces.SpanCount() != m.Traces.SpanCount() || m2.Sender != m.Sender {
			t.Fatalf("%d spans from %x became %d from %x", m.Traces.SpanCount(), m.Sender, m2.Traces.SpanCount(), m2.Sender)
		}
	})
}
