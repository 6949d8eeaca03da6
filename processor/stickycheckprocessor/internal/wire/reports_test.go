package wire

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomID(rng *rand.Rand) [16]byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64()|1)
	return id
}

func sampleReports(rng *rand.Rand, n int, sender uint64) []Report {
	rs := make([]Report, n)
	for i := range rs {
		rs[i] = Report{ID: randomID(rng), Seer: sender}
		switch i % 4 {
		case 1:
			rs[i].Seer = rng.Uint64() | 1
			rs[i].Flags = RingChange
		case 2:
			rs[i].Flags = RingChange | Counted | Handoff
		case 3:
			rs[i].Flags = 2 << HopsShift
		}
	}
	return rs
}

func TestMessageRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const sender, hash = 0x1122334455667788, 0x99
	rs := sampleReports(rng, 1000, sender)
	b := AppendReports(nil, sender, hash, rs)
	// Reports naming the sender as seer leave it out: 17 bytes, 25 with it.
	assert.Equal(t, HeaderSize+750*ReportSize+250*MaxReportSize, len(b))

	m, err := DecodeReports(b)
	require.NoError(t, err)
	assert.EqualValues(t, sender, m.Sender)
	assert.EqualValues(t, hash, m.RingHash)
	require.Len(t, m.Reports, len(rs))
	for i, got := range m.Reports {
		want := rs[i]
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.Flags, got.Flags)
		if want.Flags&Counted == 0 {
			assert.Equal(t, want.Seer, got.Seer)
		}
	}
	assert.Equal(t, 2, m.Reports[3].HopCount())
}

func TestDecodeRejectsWithAReason(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	valid := AppendReports(nil, 42, 7, sampleReports(rng, 3, 42))
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(valid)) }
	for name, tc := range map[string]struct {
		msg    []byte
		reason string
	}{
		"empty":         {nil, RejectMalformed},
		"short header":  {valid[:10], RejectMalformed},
		"bad magic":     {edit(func(b []byte) []byte { b[0] = 'X'; return b }), RejectMalformed},
		"version 2":     {edit(func(b []byte) []byte { b[4] = 2; return b }), RejectUnsupportedVersion},
		"version 0":     {edit(func(b []byte) []byte { b[4] = 0; return b }), RejectUnsupportedVersion},
		"reserved":      {edit(func(b []byte) []byte { b[5] = 1; return b }), RejectMalformed},
		"too many":      {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], MaxReportsPerMsg+1); return b }), RejectOversized},
		"no reports":    {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 0); return b[:HeaderSize] }), RejectMalformed},
		"zero sender":   {edit(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 0); return b }), RejectMalformed},
		"count too big": {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 4); return b }), RejectMalformed},
		"truncated":     {valid[:len(valid)-1], RejectMalformed},
		"trailing":      {append(slices.Clone(valid), 0), RejectMalformed},
		"unknown flag":  {edit(func(b []byte) []byte { b[HeaderSize] |= 0x80; return b }), RejectMalformed},
		"zero trace ID": {edit(func(b []byte) []byte { clear(b[HeaderSize+1 : HeaderSize+ReportSize]); return b }), RejectMalformed},
		"zero seer": {edit(func(b []byte) []byte {
			clear(b[HeaderSize+ReportSize+ReportSize : HeaderSize+ReportSize+MaxReportSize])
			return b
		}), RejectMalformed},
		"truncated seer": {valid[:HeaderSize+ReportSize+ReportSize+3], RejectMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeReports(tc.msg)
			require.Error(t, err)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.reason, pe.Reason, err.Error())
		})
	}
}

// The decoder never panics, names a known reason for every rejection, and
// what it accepts encodes back to a message it decodes the same.
func FuzzDecodeMessage(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 5, 40} {
		valid := AppendReports(nil, 42, 7, sampleReports(rng, n, 42))
		f.Add(valid)
		f.Add(valid[:len(valid)-1])
		f.Add(append(slices.Clone(valid), 1, 2, 3))
		v2 := slices.Clone(valid)
		v2[4] = 2
		f.Add(v2)
	}
	f.Add([]byte{})
	f.Add([]byte(reportsMagic))
	f.Add(append([]byte(reportsMagic), 1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1))

	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeReports(b)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !slices.Contains(RejectReasons, pe.Reason) || pe.Reason == RejectUnauthenticated {
				t.Fatalf("rejection without a known Reason: %v", err)
			}
			return
		}
		if len(m.Reports) == 0 || len(m.Reports) > MaxReportsPerMsg || len(b) > MaxReportsMessageLen {
			t.Fatalf("accepted %d reports in %d bytes", len(m.Reports), len(b))
		}
		again, err := DecodeReports(AppendReports(nil, m.Sender, m.RingHash, m.Reports))
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		for i := range m.Reports {
			a, b := m.Reports[i], again.Reports[i]
			if a.ID != b.ID || a.Flags != b.Flags || (a.Flags&Counted == 0 && a.Seer != b.Seer) {
				t.Fatalf("Report %d: %+v became %+v", i, a, b)
			}
		}
	})
}
