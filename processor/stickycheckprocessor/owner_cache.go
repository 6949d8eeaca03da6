package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"

// ownerCache remembers the owners looked up within one batch, so that the
// ring is consulted once per trace per batch. It is part of the per-call
// batch: a fixed open-addressing table, no allocation. Its slot is picked
// from the trace hash, which mixes both halves of the ID: 64-bit trace IDs
// (high half zero, as Jaeger and Zipkin/B3 clients send) spread like any
// other. A slot is valid when it carries the cache's epoch, so a new batch
// starts empty without clearing the slots. When it is three quarters full,
// the ring is asked again (correct, only slower).
type ownerCache struct {
	last    [16]byte
	lastOK  bool
	lastOwn int
	used    int
	epoch   uint32
	slots   [cacheSlots]cacheSlot
}

const (
	cacheSlots = 256
	cacheShift = 64 - 8 // the hash's top 8 bits pick the slot
)

type cacheSlot struct {
	id    [16]byte
	owner int32
	epoch uint32
}

// reset empties the cache for a new batch.
func (c *ownerCache) reset() {
	c.lastOK, c.used = false, 0
	if c.epoch++; c.epoch == 0 {
		clear(c.slots[:])
		c.epoch = 1
	}
}

// get returns the owner of id if cached; else the hash of id, for put and
// the audit.
func (c *ownerCache) get(id *[16]byte) (owner int, h uint64, ok bool) {
	if c.lastOK && c.last == *id {
		return c.lastOwn, 0, true
	}
	h = table.Hash(id)
	for i, n := int(h>>cacheShift), 0; n < cacheSlots; i, n = (i+1)%cacheSlots, n+1 {
		s := &c.slots[i]
		if s.epoch != c.epoch {
			return 0, h, false
		}
		if s.id == *id {
			c.last, c.lastOwn, c.lastOK = *id, int(s.owner), true
			return int(s.owner), h, true
		}
	}
	return 0, h, false
}

// put caches the owner of id, whose hash is h.
func (c *ownerCache) put(id *[16]byte, h uint64, owner int) {
	c.last, c.lastOwn, c.lastOK = *id, owner, true
	if c.used >= cacheSlots*3/4 {
		return
	}
	for i := int(h >> cacheShift); ; i = (i + 1) % cacheSlots {
		if s := &c.slots[i]; s.epoch != c.epoch {
			*s = cacheSlot{id: *id, owner: int32(owner), epoch: c.epoch}
			c.used++
			return
		}
	}
}
