package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"time"
	"unsafe"
)

// entry is one remembered trace. 32 bytes and no pointers: the table is a
// few large allocations that the garbage collector never scans.
type entry struct {
	id [16]byte
	// seer is the owner's tally: the first replica known to hold spans of
	// the trace (a replicaID), 0 when none.
	seer uint64
	// seen is the tick of the last span or report.
	seen  uint32
	flags uint32
}

const entrySize = int(unsafe.Sizeof(entry{}))

var zeroID [16]byte

// slotsPerTrace is the inverse load factor of the open-addressing table:
// 4/3 slots per trace keeps linear probes short (32 B × 4/3 ≈ 43 B a trace).
const (
	slotsNum = 4
	slotsDen = 3
	// tracesPerShard is the size from which the table is split in shards,
	// each with its own lock; at most maxShards.
	tracesPerShard = 8192
	maxShards      = 16
	// evictFraction of a full shard is freed at once, oldest first.
	evictFraction = 16
	// ageBins divide the window for finding the oldest entries; ages of a
	// window or more fall in the last bins.
	ageBins = 32
)

// tracker is the window table: which traces this replica saw lately, and,
// for the traces it owns, the tally of the replicas that saw them. It is a
// fixed-capacity open-addressing table with linear probing, split in
// shards by trace ID, allocated once at maxTraces.
type tracker struct {
	shards []shard
	shift  uint // shard index: the top bits of the trace hash
	epoch  time.Time
	window uint32 // in ticks (milliseconds)
}

type shard struct {
	mu    sync.Mutex
	slots []entry
	live  int
	limit int
	// gen is the ring view generation the shard's entries agree with: a
	// ring change moves each shard to the new view under its lock.
	gen uint64
	_   [64]byte // keeps neighbouring shards' locks off one cache line
}

func newTracker(maxTraces int, window time.Duration, epoch time.Time) *tracker {
	n := 1
	for n*2 <= maxTraces/tracesPerShard && n < maxShards {
		n *= 2
	}
	t := &tracker{
		shards: make([]shard, n),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
		epoch:  epoch,
		window: uint32(max(window.Milliseconds(), 1)),
	}
	limit := (maxTraces + n - 1) / n
	if n > 1 {
		// Trace IDs spread over the shards unevenly: four standard
		// deviations of room let maxTraces traces in before any shard fills.
		limit += int(4*math.Sqrt(float64(limit))) + 1
	}
	// One allocation for all shards.
	per := limit*slotsNum/slotsDen + 1
	slots := make([]entry, n*per)
	for i := range t.shards {
		t.shards[i].limit = limit
		t.shards[i].slots = slots[i*per : (i+1)*per : (i+1)*per]
	}
	return t
}

// tick is now in milliseconds since the tracker's epoch, wrapping every 49
// days; ages are differences of ticks, which wrap correctly.
func (t *tracker) tick(now time.Time) uint32 {
	return uint32(now.Sub(t.epoch).Milliseconds())
}

// traceHash mixes both halves of the ID (some tracers leave the high half
// zero) with murmur3's finalizer.
func traceHash(id *[16]byte) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 31)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// shardIndex is the shard of a trace hash: its top bits.
func (t *tracker) shardIndex(h uint64) int {
	return int(h >> t.shift & uint64(len(t.shards)-1))
}

// shardOf returns the shard that holds id, and id's hash.
func (t *tracker) shardOf(id *[16]byte) (*shard, uint64) {
	h := traceHash(id)
	return &t.shards[t.shardIndex(h)], h
}

// home is the first slot probed for a hash: the low 32 bits scaled to the
// table's size.
func (s *shard) home(h uint64) int {
	return int((h & 0xffffffff) * uint64(len(s.slots)) >> 32)
}

// find returns the entry of id, or nil. The shard's lock must be held.
func (s *shard) find(id *[16]byte, h uint64) *entry {
	n := len(s.slots)
	for i := s.home(h); ; {
		e := &s.slots[i]
		if e.id == *id {
			return e
		}
		if e.id == zeroID {
			return nil
		}
		if i++; i == n {
			i = 0
		}
	}
}

// upsert returns the entry of id, inserting it when absent; a full shard
// first frees its oldest entries. The shard's lock must be held; id must
// not be zero.
func (s *shard) upsert(id *[16]byte, h uint64, now, window uint32) (e *entry, evicted int) {
	n := len(s.slots)
	i := s.home(h)
	for {
		e = &s.slots[i]
		if e.id == *id {
			return e, 0
		}
		if e.id == zeroID {
			break
		}
		if i++; i == n {
			i = 0
		}
	}
	if s.live >= s.limit {
		_, evicted = s.evictOldest(now, window, max(s.limit/evictFraction, 1))
		// Removal shifted entries: probe again for the free slot.
		for i = s.home(h); s.slots[i].id != zeroID; {
			if i++; i == n {
				i = 0
			}
		}
		e = &s.slots[i]
	}
	*e = entry{id: *id, seen: now}
	s.live++
	return e, evicted
}

// remove empties slot i and shifts the entries after it back, so that no
// probe sequence is broken (no tombstones).
func (s *shard) remove(i int) {
	n := len(s.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		e := &s.slots[j]
		if e.id == zeroID {
			break
		}
		k := s.home(traceHash(&e.id))
		// The entry at j stays when its home lies cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		s.slots[i] = *e
		i = j
	}
	s.slots[i] = entry{}
	s.live--
}

// removeIf removes every entry for which drop returns true. An entry may be
// offered twice (when a removal shifts it back across the wrap), so drop
// must give the same answer for the same entry.
func (s *shard) removeIf(drop func(e *entry) bool) {
	for i := 0; i < len(s.slots); {
		e := &s.slots[i]
		if e.id != zeroID && drop(e) {
			s.remove(i) // slot i now holds an entry not yet looked at, or nothing
			continue
		}
		i++
	}
}

// expire removes the entries not seen for a window; it returns how many.
func (s *shard) expire(now, window uint32) int {
	before := s.live
	s.removeIf(func(e *entry) bool { return now-e.seen >= window })
	return before - s.live
}

// evictOldest frees at least want entries, oldest first. Entries past their
// window count as expired, the others as evicted early.
func (s *shard) evictOldest(now, window uint32, want int) (expired, evicted int) {
	width := max(window/ageBins, 1)
	bin := func(e *entry) int { return int(min((now-e.seen)/width, 2*ageBins)) }
	var hist [2*ageBins + 1]int
	for i := range s.slots {
		if e := &s.slots[i]; e.id != zeroID {
			hist[bin(e)]++
		}
	}
	// The oldest bins go whole; the youngest of them only in part.
	cutoff, need := len(hist), want
	for cutoff > 0 && need > 0 {
		cutoff--
		need -= hist[cutoff]
	}
	partial := hist[cutoff] + need // how many of the cutoff bin go
	s.removeIf(func(e *entry) bool {
		b := bin(e)
		if b < cutoff || (b == cutoff && partial == 0) {
			return false
		}
		if b == cutoff {
			partial--
		}
		if now-e.seen >= window {
			expired++
		} else {
			evicted++
		}
		return true
	})
	return expired, evicted
}

// expire sweeps every shard; it returns the entries removed and left.
func (t *tracker) expire(now uint32) (expired, live int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		expired += s.expire(now, t.window)
		live += s.live
		s.mu.Unlock()
	}
	return expired, live
}

// bytes is the table's memory, allocated once.
func (t *tracker) bytes() int {
	n := 0
	for i := range t.shards {
		n += len(t.shards[i].slots) * entrySize
	}
	return n
}
