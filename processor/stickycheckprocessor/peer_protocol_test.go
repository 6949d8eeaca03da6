package stickycheckprocessor

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleReports(rng *rand.Rand, n int, sender uint64) []report {
	rs := make([]report, n)
	for i := range rs {
		rs[i] = report{id: randomID(rng), seer: sender}
		switch i % 4 {
		case 1:
			rs[i].seer = rng.Uint64() | 1
			rs[i].flags = rfRingChange
		case 2:
			rs[i].flags = rfRingChange | rfCounted | rfHandoff
		case 3:
			rs[i].flags = 2 << hopsShift
		}
	}
	return rs
}

func TestMessageRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const sender, hash = 0x1122334455667788, 0x99
	rs := sampleReports(rng, 1000, sender)
	b := appendMessage(nil, sender, hash, rs)
	// Reports naming the sender as seer leave it out: 17 bytes, 25 with it.
	assert.Equal(t, headerSize+750*reportSize+250*maxReportSize, len(b))

	m, err := decodeMessage(b)
	require.NoError(t, err)
	assert.EqualValues(t, sender, m.sender)
	assert.EqualValues(t, hash, m.ringHash)
	require.Len(t, m.reports, len(rs))
	for i, got := range m.reports {
		want := rs[i]
		assert.Equal(t, want.id, got.id)
		assert.Equal(t, want.flags, got.flags)
		if want.flags&rfCounted == 0 {
			assert.Equal(t, want.seer, got.seer)
		}
	}
	assert.Equal(t, 2, m.reports[3].hops())
}

func TestDecodeRejectsWithAReason(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	valid := appendMessage(nil, 42, 7, sampleReports(rng, 3, 42))
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(valid)) }
	for name, tc := range map[string]struct {
		msg    []byte
		reason string
	}{
		"empty":         {nil, rejectMalformed},
		"short header":  {valid[:10], rejectMalformed},
		"bad magic":     {edit(func(b []byte) []byte { b[0] = 'X'; return b }), rejectMalformed},
		"version 2":     {edit(func(b []byte) []byte { b[4] = 2; return b }), rejectUnsupportedVersion},
		"version 0":     {edit(func(b []byte) []byte { b[4] = 0; return b }), rejectUnsupportedVersion},
		"reserved":      {edit(func(b []byte) []byte { b[5] = 1; return b }), rejectMalformed},
		"too many":      {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], maxReportsPerMsg+1); return b }), rejectOversized},
		"no reports":    {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 0); return b[:headerSize] }), rejectMalformed},
		"zero sender":   {edit(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 0); return b }), rejectMalformed},
		"count too big": {edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 4); return b }), rejectMalformed},
		"truncated":     {valid[:len(valid)-1], rejectMalformed},
		"trailing":      {append(slices.Clone(valid), 0), rejectMalformed},
		"unknown flag":  {edit(func(b []byte) []byte { b[headerSize] |= 0x80; return b }), rejectMalformed},
		"zero trace ID": {edit(func(b []byte) []byte { clear(b[headerSize+1 : headerSize+reportSize]); return b }), rejectMalformed},
		"zero seer": {edit(func(b []byte) []byte {
			clear(b[headerSize+reportSize+reportSize : headerSize+reportSize+maxReportSize])
			return b
		}), rejectMalformed},
		"truncated seer": {valid[:headerSize+reportSize+reportSize+3], rejectMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeMessage(tc.msg)
			require.Error(t, err)
			var pe *protocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.reason, pe.reason, err.Error())
		})
	}
}

// The decoder never panics, names a known reason for every rejection, and
// what it accepts encodes back to a message it decodes the same.
func FuzzDecodeMessage(f *testing.F) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 5, 40} {
		valid := appendMessage(nil, 42, 7, sampleReports(rng, n, 42))
		f.Add(valid)
		f.Add(valid[:len(valid)-1])
		f.Add(append(slices.Clone(valid), 1, 2, 3))
		v2 := slices.Clone(valid)
		v2[4] = 2
		f.Add(v2)
	}
	f.Add([]byte{})
	f.Add([]byte(protocolMagic))
	f.Add(append([]byte(protocolMagic), 1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1))

	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			var pe *protocolError
			if !errors.As(err, &pe) || !slices.Contains(rejectReasons, pe.reason) || pe.reason == rejectUnauthenticated {
				t.Fatalf("rejection without a known reason: %v", err)
			}
			return
		}
		if len(m.reports) == 0 || len(m.reports) > maxReportsPerMsg || len(b) > maxPeerMessageLen {
			t.Fatalf("accepted %d reports in %d bytes", len(m.reports), len(b))
		}
		again, err := decodeMessage(appendMessage(nil, m.sender, m.ringHash, m.reports))
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v", err)
		}
		for i := range m.reports {
			a, b := m.reports[i], again.reports[i]
			if a.id != b.id || a.flags != b.flags || (a.flags&rfCounted == 0 && a.seer != b.seer) {
				t.Fatalf("report %d: %+v became %+v", i, a, b)
			}
		}
	})
}
