package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"sync"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/tally"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// fwdTrace is a trace of the batch whose spans go to another member, or
// are held (dest holdHere).
type fwdTrace struct {
	id     [16]byte
	dest   string // the member it goes to
	reason fwdReason
}

// holdHere is the destination of spans held after a ring change.
const holdHere = ""

// batchTraces is how many traces of a batch the audit records at once.
const batchTraces = 256

// pendingTrace is a trace of the batch waiting to be recorded.
type pendingTrace struct {
	id    [16]byte
	hash  uint64
	owner int32
	shard uint32
}

// batch is what one call of processTraces works with and adds up: the view
// it checks against, the owners it looked up, its counts, and what the
// audit records. Everything is counted, queued and recorded once a call
// (finish), never span by span. Batches are pooled: one is about 24 KiB,
// too much to allocate or clear per call.
type batch struct {
	v           *view
	now         time.Time
	withinGrace bool
	cache       ownerCache

	checked   int
	misrouted [numReasons]int

	// forwardedIn: the spans came from a peer (or are processed here after
	// a failed forward): they are never forwarded (hop limit 1).
	forwardedIn bool
	// released: the spans were held and are routed again; they are not
	// held again for self missing from the ring.
	released bool
	// fwd are the traces of the batch to forward, found by the audit's
	// record; empty in steady state.
	fwd []fwdTrace

	// The audit's part (unused without the audit).
	tick    uint32
	np      int
	pending [batchTraces]pendingTrace
	// reports is never fuller than pending: each recorded trace adds one at
	// most, and record queues them once its shards are unlocked.
	nr      int
	reports [batchTraces]wire.Report
	split   [tally.NumCauses]int
	evicted int
	warm    uint32 // sink of the loads that warm the table's lines
}

var batches = sync.Pool{New: func() any { return new(batch) }}

// newBatch returns an empty batch checking against v at now.
func newBatch(v *view, now time.Time) *batch {
	b := batches.Get().(*batch)
	b.v, b.now, b.withinGrace = v, now, v.inGrace(now)
	b.cache.reset()
	return b
}

// release returns the batch to the pool, emptied.
func (b *batch) release() {
	b.v, b.checked, b.misrouted, b.forwardedIn, b.released, b.fwd = nil, 0, [numReasons]int{}, false, false, b.fwd[:0]
	b.np, b.nr, b.split, b.evicted = 0, 0, [tally.NumCauses]int{}, 0
	batches.Put(b)
}
