package table

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
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
	assert.Equal(t, 32, EntrySize)
	for _, n := range []int{1, 1000, 100_000, 1_000_000, 5_000_000} {
		tr := New(n, time.Second, time.Now())
		perTrace := float64(tr.Bytes()) / float64(n)
		if n >= 1000 {
			assert.LessOrEqualf(t, perTrace, 64.0, "%d traces", n)
		}
		t.Logf("max_traces %d: %d shards, %.1f bytes a trace", n, len(tr.Shards), perTrace)
	}
	tr := New(1_000_000, time.Second, time.Now())
	assert.Less(t, tr.Bytes(), 64<<20, "1,000,000 traces in under 64 MiB")
}

// The table against a map, through inserts, lookups and removals that
// shift entries back (also across the wrap of the slots).
func TestTrackerAgreesWithAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := New(2000, time.Hour, time.Now())
	require.Len(t, tr.Shards, 1)
	sh := &tr.Shards[0]
	model := map[[16]byte]uint32{}
	ids := make([][16]byte, 0, 4000)
	for round := range 200 {
		for k := range 40 {
			id := randomID(rng)
			switch {
			case k < 3:
				// Homed in the last slots: their clusters wrap to slot 0.
				for sh.Home(Hash(&id)) < len(sh.Slots)-3 {
					id = randomID(rng)
				}
			case rng.IntN(4) == 0 && len(ids) > 0:
				id = ids[rng.IntN(len(ids))] // seen again
			}
			h := Hash(&id)
			if _, ok := model[id]; !ok && sh.live >= sh.limit {
				continue
			}
			e, evicted := sh.Upsert(&id, h, uint32(round), tr.Window)
			require.Zero(t, evicted)
			e.Seen = uint32(round)
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
		sh.RemoveIf(func(e *Entry) bool { return cut[e.ID] })
		for id := range cut {
			delete(model, id)
		}
		require.Equal(t, len(model), sh.live)
		for _, id := range ids {
			e := sh.Find(&id, Hash(&id))
			seen, ok := model[id]
			if !ok {
				require.Nil(t, e)
				continue
			}
			require.NotNil(t, e)
			require.Equal(t, seen, e.Seen)
		}
	}
}

func TestTrackerExpiresAfterTheWindow(t *testing.T) {
	epoch := time.Unix(1000, 0)
	tr := New(1000, 10*time.Second, epoch)
	rng := rand.New(rand.NewPCG(3, 4))
	old, young := make([][16]byte, 300), make([][16]byte, 200)
	insert := func(ids [][16]byte, at time.Time) {
		for i := range ids {
			ids[i] = randomID(rng)
			sh, h := tr.ShardOf(&ids[i])
			sh.Upsert(&ids[i], h, tr.Tick(at), tr.Window)
		}
	}
	insert(old, epoch)
	insert(young, epoch.Add(5*time.Second))
	expired, live := tr.Expire(tr.Tick(epoch.Add(12 * time.Second)))
	assert.Equal(t, 300, expired)
	assert.Equal(t, 200, live)
	for _, id := range young {
		sh, h := tr.ShardOf(&id)
		assert.NotNil(t, sh.Find(&id, h))
	}
	for _, id := range old {
		sh, h := tr.ShardOf(&id)
		assert.Nil(t, sh.Find(&id, h))
	}
}

// A full table forgets its oldest traces first, a sixteenth at a time, and
// says how many went before their window ended.
func TestTrackerEvictsTheOldestWhenFull(t *testing.T) {
	tr := New(1600, time.Minute, time.Unix(0, 0))
	require.Len(t, tr.Shards, 1)
	sh := &tr.Shards[0]
	rng := rand.New(rand.NewPCG(5, 6))
	ids := make([][16]byte, 1600)
	for i := range ids {
		ids[i] = randomID(rng)
		// Ages spread over the window: Entry i was seen at tick i*30.
		_, evicted := sh.Upsert(&ids[i], Hash(&ids[i]), uint32(i*30), tr.Window)
		require.Zero(t, evicted)
	}
	require.Equal(t, sh.limit, sh.live)

	now := uint32(1600 * 30)
	extra := randomID(rng)
	_, evicted := sh.Upsert(&extra, Hash(&extra), now, tr.Window)
	assert.Equal(t, 1600/evictFraction, evicted, "a sixteenth of the Shard, all within the window")
	assert.Equal(t, 1600-evicted+1, sh.live)
	// Oldest first, to the resolution of an age bin (window/32: 62 entries).
	perBin := int(tr.Window/ageBins) / 30
	for i, id := range ids {
		present := sh.Find(&id, Hash(&id)) != nil
		switch {
		case i < evicted-perBin:
			assert.Falsef(t, present, "Entry %d is among the oldest", i)
		case i >= evicted+perBin:
			assert.Truef(t, present, "Entry %d is among the youngest", i)
		}
	}
}

// Memory of the window table, measured on the heap: a table of a million
// traces, filled.
func BenchmarkAuditTableMemory(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := New(1_000_000, time.Minute, time.Now())
		rng := rand.New(rand.NewPCG(1, 1))
		for range 1_000_000 {
			id := randomID(rng)
			sh, h := tr.ShardOf(&id)
			e, _ := sh.Upsert(&id, h, 1, tr.Window)
			e.Flags |= 1
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := 0
		for i := range tr.Shards {
			live += tr.Shards[i].live
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(live), "bytes/trace")
		b.ReportMetric(float64(live), "traces")
		runtime.KeepAlive(tr)
	}
}
