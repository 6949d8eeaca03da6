package tally

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// Whatever the order in which the owner learns of the replicas holding a
// trace (its own spans, reports, repeated reports), the trace counts once
// when they are two or more, and never when there is one.
func TestTallyCountsOnceInAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for range 20_000 {
		n := 1 + rng.IntN(4)
		var events []uint64 // replica IDs, 1..n, each at least once
		for s := 1; s <= n; s++ {
			for range 1 + rng.IntN(3) {
				events = append(events, uint64(s))
			}
		}
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		var e table.Entry
		counted := 0
		for _, s := range events {
			if split, _ := Merge(&e, &wire.Report{Seer: s}); split {
				counted++
			}
		}
		want := 0
		if n >= 2 {
			want = 1
		}
		require.Equalf(t, want, counted, "%d replicas, events %v", n, events)
	}
}

// A ring change moves the trace from owner A to owner B in the middle of
// the events: A hands its tally over at some point among B's events, or
// never (it had none). B, awaiting the Handoff, holds back a split until it
// comes or grace ends. The tier (A and B together) counts the trace once
// when two or more replicas hold spans of it, never otherwise; the Cause is
// ring_change unless the split was known before the change.
func TestTallyHandoffKeepsTheCountOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for range 50_000 {
		n := 1 + rng.IntN(4)
		var before, after []uint64
		for s := 1; s <= n; s++ {
			for range 1 + rng.IntN(2) {
				if rng.IntN(2) == 0 {
					before = append(before, uint64(s))
				} else {
					after = append(after, uint64(s))
				}
			}
		}
		var a, b table.Entry
		counts := map[Cause]int{}
		count := func(e *table.Entry, split, settled bool) {
			if settled || (split && CountsNow(e, true)) {
				counts[CauseOf(e)]++
			}
		}
		for _, s := range before {
			split, _ := Merge(&a, &wire.Report{Seer: s})
			if split {
				counts[CauseOf(&a)]++
			}
		}
		splitBefore := counts[Misrouted] > 0
		r, ok, countNow := Handoff(&a)
		require.False(t, countNow)
		require.Equal(t, len(before) > 0, ok)
		at := rng.IntN(len(after) + 1)
		for i := 0; i <= len(after); i++ {
			if i == at && ok {
				split, settled := Merge(&b, &r)
				count(&b, split, settled)
			}
			if i < len(after) {
				split, settled := Merge(&b, &wire.Report{Seer: after[i], Flags: wire.RingChange})
				count(&b, split, settled)
			}
		}
		if Settle(&b) { // grace ended
			counts[CauseOf(&b)]++
		}
		want := 0
		if n >= 2 {
			want = 1
		}
		require.Equalf(t, want, counts[Misrouted]+counts[CausedByRingChange], "before %v, after %v, Handoff at %d", before, after, at)
		if splitBefore {
			assert.Zero(t, counts[CausedByRingChange])
		} else {
			assert.Zero(t, counts[Misrouted])
		}
		assert.Zero(t, a.Seer, "the old owner's tally is emptied")
	}
}
