package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import "sync/atomic"

// room bounds how many spans wait somewhere (to be forwarded, or held after
// a ring change): room is taken before a span leaves its batch and given
// back once it is gone, lock-free, so the data path never waits for it.
type room struct {
	capacity int64
	used     atomic.Int64
}

func newRoom(capacity int) room { return room{capacity: int64(capacity)} }

// reserve takes room for n spans; false, nothing taken, when they do not
// fit.
func (r *room) reserve(n int) bool {
	for {
		u := r.used.Load()
		if u+int64(n) > r.capacity {
			return false
		}
		if r.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

// release gives back the room of n spans.
func (r *room) release(n int) { r.used.Add(-int64(n)) }
