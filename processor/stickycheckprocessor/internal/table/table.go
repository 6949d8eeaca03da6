// Package table is the audit's window table: the traces a replica saw
// lately, in a fixed-capacity open-addressing table allocated once, split in
// locked shards. It stores entries and knows nothing of what their tally
// means (see package tally) nor of the ring.
package table // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"

import (
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"time"
	"unsafe"
)

// Entry is one remembered trace. 32 bytes and no pointers: the table is a
// few large allocations that the garbage collector never scans.
type Entry struct {
	ID [16]byte
	// Seer is the owner's tally: the first replica known to hold spans of
	// the trace (a replica ID), 0 when none (see package tally).
	Seer uint64
	// Seen is the tick of the last span or report.
	Seen uint32
	// Flags belong to the tally.
	Flags uint32
}

// EntrySize is the bytes of one slot.
const EntrySize = int(unsafe.Sizeof(Entry{}))

// ZeroID marks a free slot; it is never a trace ID.
var ZeroID [16]byte

// slotsNum/slotsDen is the inverse load factor of the open-addressing table:
// 4/3 slots per trace keeps linear probes short (32 B × 4/3 ≈ 43 B a trace).
const (
	slotsNum = 4
	slotsDen = 3
	// tracesPerShard is the size from which the table is split in shards,
	// each with its own lock; at most MaxShards.
	tracesPerShard = 8192
	// MaxShards bounds the shards of a table.
	MaxShards = 16
	// evictFraction of a full shard is freed at once, oldest first.
	evictFraction = 16
	// ageBins divide the window for finding the oldest entries; ages of a
	// window or more fall in the last bins.
	ageBins = 32
)

// Table is the window table: which traces this replica saw lately, and,
// for the traces it owns, the tally of the replicas that saw them. It is a
// fixed-capacity open-addressing table with linear probing, split in
// shards by trace ID, allocated once at maxTraces.
type Table struct {
	// Shards are locked one at a time, each by its own Mu.
	Shards []Shard
	shift  uint // shard index: the top bits of the trace hash
	epoch  time.Time
	// Window is how long an entry is remembered, in ticks (milliseconds).
	Window uint32
}

// Shard is a part of the table with its own lock: Mu guards everything in
// it, and every method of Shard needs it held.
type Shard struct {
	Mu    sync.Mutex
	Slots []Entry
	live  int
	limit int
	// Gen is the owner's version of what the shard's entries agree with
	// (the audit keeps its ring view generation here): the owner sets it
	// under Mu.
	Gen uint64
	_   [64]byte // keeps neighbouring shards' locks off one cache line
}

// Live is the number of entries in the shard.
func (s *Shard) Live() int { return s.live }

// New allocates a table for maxTraces traces remembered for window; ticks
// count milliseconds from epoch.
func New(maxTraces int, window time.Duration, epoch time.Time) *Table {
	n := 1
	for n*2 <= maxTraces/tracesPerShard && n < MaxShards {
		n *= 2
	}
	t := &Table{
		Shards: make([]Shard, n),
		shift:  uint(64 - bits.TrailingZeros(uint(n))),
		epoch:  epoch,
		Window: uint32(max(window.Milliseconds(), 1)),
	}
	limit := (maxTraces + n - 1) / n
	if n > 1 {
		// Trace IDs spread over the shards unevenly: four standard
		// deviations of room let maxTraces traces in before any Shard fills.
		limit += int(4*math.Sqrt(float64(limit))) + 1
	}
	// One allocation for all shards.
	per := limit*slotsNum/slotsDen + 1
	slots := make([]Entry, n*per)
	for i := range t.Shards {
		t.Shards[i].limit = limit
		t.Shards[i].Slots = slots[i*per : (i+1)*per : (i+1)*per]
	}
	return t
}

// tick is now in milliseconds since the Table's epoch, wrapping every 49
// days; ages are differences of ticks, which wrap correctly.
func (t *Table) Tick(now time.Time) uint32 {
	return uint32(now.Sub(t.epoch).Milliseconds())
}

// Hash mixes both halves of the ID (some tracers leave the high half
// zero) with murmur3's finalizer.
func Hash(id *[16]byte) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 31)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// shardIndex is the Shard of a trace hash: its top bits.
func (t *Table) ShardIndex(h uint64) int {
	return int(h >> t.shift & uint64(len(t.Shards)-1))
}

// shardOf returns the Shard that holds id, and id's hash.
func (t *Table) ShardOf(id *[16]byte) (*Shard, uint64) {
	h := Hash(id)
	return &t.Shards[t.ShardIndex(h)], h
}

// home is the first slot probed for a hash: the low 32 bits scaled to the
// table's size.
func (s *Shard) Home(h uint64) int {
	return int((h & 0xffffffff) * uint64(len(s.Slots)) >> 32)
}

// find returns the Entry of id, or nil. The Shard's lock must be held.
func (s *Shard) Find(id *[16]byte, h uint64) *Entry {
	n := len(s.Slots)
	for i := s.Home(h); ; {
		e := &s.Slots[i]
		if e.ID == *id {
			return e
		}
		if e.ID == ZeroID {
			return nil
		}
		if i++; i == n {
			i = 0
		}
	}
}

// upsert returns the Entry of id, inserting it when absent; a full Shard
// first frees its oldest entries. The Shard's lock must be held; id must
// not be zero.
func (s *Shard) Upsert(id *[16]byte, h uint64, now, window uint32) (e *Entry, evicted int) {
	n := len(s.Slots)
	i := s.Home(h)
	for {
		e = &s.Slots[i]
		if e.ID == *id {
			return e, 0
		}
		if e.ID == ZeroID {
			break
		}
		if i++; i == n {
			i = 0
		}
	}
	if s.live >= s.limit {
		_, evicted = s.evictOldest(now, window, max(s.limit/evictFraction, 1))
		// Removal shifted entries: probe again for the free slot.
		for i = s.Home(h); s.Slots[i].ID != ZeroID; {
			if i++; i == n {
				i = 0
			}
		}
		e = &s.Slots[i]
	}
	*e = Entry{ID: *id, Seen: now}
	s.live++
	return e, evicted
}

// remove empties slot i and shifts the entries after it back, so that no
// probe sequence is broken (no tombstones).
func (s *Shard) remove(i int) {
	n := len(s.Slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		e := &s.Slots[j]
		if e.ID == ZeroID {
			break
		}
		k := s.Home(Hash(&e.ID))
		// The Entry at j stays when its home lies cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		s.Slots[i] = *e
		i = j
	}
	s.Slots[i] = Entry{}
	s.live--
}

// removeIf removes every Entry for which drop returns true. An Entry may be
// offered twice (when a removal shifts it back across the wrap), so drop
// must give the same answer for the same Entry.
func (s *Shard) RemoveIf(drop func(e *Entry) bool) {
	for i := 0; i < len(s.Slots); {
		e := &s.Slots[i]
		if e.ID != ZeroID && drop(e) {
			s.remove(i) // slot i now holds an Entry not yet looked at, or nothing
			continue
		}
		i++
	}
}

// expire removes the entries not seen for a window; it returns how many.
func (s *Shard) expire(now, window uint32) int {
	before := s.live
	s.RemoveIf(func(e *Entry) bool { return now-e.Seen >= window })
	return before - s.live
}

// evictOldest frees at least want entries, oldest first. Entries past their
// window count as expired, the others as evicted early.
func (s *Shard) evictOldest(now, window uint32, want int) (expired, evicted int) {
	width := max(window/ageBins, 1)
	bin := func(e *Entry) int { return int(min((now-e.Seen)/width, 2*ageBins)) }
	var hist [2*ageBins + 1]int
	for i := range s.Slots {
		if e := &s.Slots[i]; e.ID != ZeroID {
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
	s.RemoveIf(func(e *Entry) bool {
		b := bin(e)
		if b < cutoff || (b == cutoff && partial == 0) {
			return false
		}
		if b == cutoff {
			partial--
		}
		if now-e.Seen >= window {
			expired++
		} else {
			evicted++
		}
		return true
	})
	return expired, evicted
}

// expire sweeps every Shard; it returns the entries removed and left.
func (t *Table) Expire(now uint32) (expired, live int) {
	for i := range t.Shards {
		s := &t.Shards[i]
		s.Mu.Lock()
		expired += s.expire(now, t.Window)
		live += s.live
		s.Mu.Unlock()
	}
	return expired, live
}

// bytes is the table's memory, allocated once.
func (t *Table) Bytes() int {
	n := 0
	for i := range t.Shards {
		n += len(t.Shards[i].Slots) * EntrySize
	}
	return n
}

// BytesFor is about what a table of maxTraces traces allocates (Bytes of
// New(maxTraces, ...), without the shards' few slots of rounding): what the
// audit logs and checks against the memory limit before it allocates.
func BytesFor(maxTraces int) int64 {
	return int64(maxTraces) * slotsNum / slotsDen * int64(EntrySize)
}
