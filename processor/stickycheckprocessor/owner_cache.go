package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

// ownerCache remembers the owners looked up within one batch, so that the
// ring is consulted once per trace per batch. It lives on the stack of one
// call: a fixed open-addressing table, no allocation. When it is full, the
// ring is asked again (correct, only slower).
type ownerCache struct {
	last    [16]byte
	lastOK  bool
	lastOwn int
	used    int
	slots   [cacheSlots]cacheSlot
}

const cacheSlots = 256

type cacheSlot struct {
	id    [16]byte
	owner int32
	set   bool
}

func (c *ownerCache) get(id [16]byte) (int, bool) {
	if c.lastOK && c.last == id {
		return c.lastOwn, true
	}
	for i, n := int(id[0])%cacheSlots, 0; n < cacheSlots; i, n = (i+1)%cacheSlots, n+1 {
		s := &c.slots[i]
		if !s.set {
			return 0, false
		}
		if s.id == id {
			c.last, c.lastOwn, c.lastOK = id, int(s.owner), true
			return int(s.owner), true
		}
	}
	return 0, false
}

func (c *ownerCache) put(id [16]byte, owner int) {
	c.last, c.lastOwn, c.lastOK = id, owner, true
	if c.used >= cacheSlots*3/4 {
		return
	}
	for i := int(id[0]) % cacheSlots; ; i = (i + 1) % cacheSlots {
		if !c.slots[i].set {
			c.slots[i] = cacheSlot{id: id, owner: int32(owner), set: true}
			c.used++
			return
		}
	}
}
