package stickycheckprocessor

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomID(rng *rand.Rand) [16]byte {
	var id [16]byte
	binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rng.Uint64()|1)
	return id
}

func TestEntryIs32BytesAndTheTableUnder64BytesATrace(t *testing.T) {
	assert.Equal(t, 32, entrySize)
	for _, n := range []int{1, 1000, 100_000, 1_000_000, 5_000_000} {
		tr := newTracker(n, time.Second, time.Now())
		perTrace := float64(tr.bytes()) / float64(n)
		if n >= 1000 {
			assert.LessOrEqualf(t, perTrace, 64.0, "%d traces", n)
		}
		t.Logf("max_traces %d: %d shards, %.1f bytes a trace", n, len(tr.shards), perTrace)
	}
	tr := newTracker(1_000_000, time.Second, time.Now())
	assert.Less(t, tr.bytes(), 64<<20, "1,000,000 traces in under 64 MiB")
}

// The table against a map, through inserts, lookups and removals that
// shift entries back (also across the wrap of the slots).
func TestTrackerAgreesWithAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := newTracker(2000, time.Hour, time.Now())
	require.Len(t, tr.shards, 1)
	sh := &tr.shards[0]
	model := map[[16]byte]uint32{}
	ids := make([][16]byte, 0, 4000)
	for round := range 200 {
		for k := range 40 {
			id := randomID(rng)
			switch {
			case k < 3:
				// Homed in the last slots: their clusters wrap to slot 0.
				for sh.home(traceHash(&id)) < len(sh.slots)-3 {
					id = randomID(rng)
				}
			case rng.IntN(4) == 0 && len(ids) > 0:
				id = ids[rng.IntN(len(ids))] // seen again
			}
			h := traceHash(&id)
			if _, ok := model[id]; !ok && sh.live >= sh.limit {
				continue
			}
			e, evicted := sh.upsert(&id, h, uint32(round), tr.window)
			require.Zero(t, evicted)
			e.seen = uint32(round)
			if _, ok := model[id]; !ok {
				ids = append(ids, id)
			}
			model[id] = uint32(round)
		}
		// Remove a random third.
		cut := map[[16]byte]bool{}
		for id := range model {
			if rng.IntN(3) == 0 {
				cut[id] = true
			}
		}
		sh.removeIf(func(e *entry) bool { return cut[e.id] })
		for id := range cut {
			delete(model, id)
		}
		require.Equal(t, len(model), sh.live)
		for _, id := range ids {
			e := sh.find(&id, traceHash(&id))
			seen, ok := model[id]
			if !ok {
				require.Nil(t, e)
				continue
			}
			require.NotNil(t, e)
			require.Equal(t, seen, e.seen)
		}
	}
}

func TestTrackerExpiresAfterTheWindow(t *testing.T) {
	epoch := time.Unix(1000, 0)
	tr := newTracker(1000, 10*time.Second, epoch)
	rng := rand.New(rand.NewPCG(3, 4))
	old, young := make([][16]byte, 300), make([][16]byte, 200)
	insert := func(ids [][16]byte, at time.Time) {
		for i := range ids {
			ids[i] = randomID(rng)
			sh, h := tr.shardOf(&ids[i])
			sh.upsert(&ids[i], h, tr.tick(at), tr.window)
		}
	}
	insert(old, epoch)
	insert(young, epoch.Add(5*time.Second))
	expired, live := tr.expire(tr.tick(epoch.Add(12 * time.Second)))
	assert.Equal(t, 300, expired)
	assert.Equal(t, 200, live)
	for _, id := range young {
		sh, h := tr.shardOf(&id)
		assert.NotNil(t, sh.find(&id, h))
	}
	for _, id := range old {
		sh, h := tr.shardOf(&id)
		assert.Nil(t, sh.find(&id, h))
	}
}

// A full table forgets its oldest traces first, a sixteenth at a time, and
// says how many went before their window ended.
func TestTrackerEvictsTheOldestWhenFull(t *testing.T) {
	tr := newTracker(1600, time.Minute, time.Unix(0, 0))
	require.Len(t, tr.shards, 1)
	sh := &tr.shards[0]
	rng := rand.New(rand.NewPCG(5, 6))
	ids := make([][16]byte, 1600)
	for i := range ids {
		ids[i] = randomID(rng)
		// Ages spread over the window: entry i was seen at tick i*30.
		_, evicted := sh.upsert(&ids[i], traceHash(&ids[i]), uint32(i*30), tr.window)
		require.Zero(t, evicted)
	}
	require.Equal(t, sh.limit, sh.live)

	now := uint32(1600 * 30)
	extra := randomID(rng)
	_, evicted := sh.upsert(&extra, traceHash(&extra), now, tr.window)
	assert.Equal(t, 1600/evictFraction, evicted, "a sixteenth of the shard, all within the window")
	assert.Equal(t, 1600-evicted+1, sh.live)
	// Oldest first, to the resolution of an age bin (window/32: 62 entries).
	perBin := int(tr.window/ageBins) / 30
	for i, id := range ids {
		present := sh.find(&id, traceHash(&id)) != nil
		switch {
		case i < evicted-perBin:
			assert.Falsef(t, present, "entry %d is among the oldest", i)
		case i >= evicted+perBin:
			assert.Truef(t, present, "entry %d is among the youngest", i)
		}
	}
}
