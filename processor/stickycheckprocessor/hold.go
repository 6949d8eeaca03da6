package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// What became of held spans (attribute outcome of spans_held).
const (
	holdReleased = iota // held, then routed again: to the holder a handoff named, or here
	holdFull            // no room: processed at once
	numHoldOutcomes
)

var holdOutcomeNames = [numHoldOutcomes]string{"released", "full"}

// holdBuffer keeps, for a bounded moment after a ring change, the spans of
// traces this replica does not know whose owner under the ring before was
// another member (forward::hold): that member may hold the trace, and its
// handoff, which says so, may not have come yet (the agents can see a new
// ring before the old owner does). When the moment is over the spans are
// routed again: to the holder the handoff named, or, none having come,
// here. Holding rather than forwarding keeps a tier that starts cold from
// sending its first spans around.
//
// Lock rule: mu guards the list of held batches; the data path takes it to
// append (add), the release loop to take what is due. Nothing is processed
// or logged under it.
type holdBuffer struct {
	metrics *metrics
	// release routes spans again, once their hold is over.
	release func(context.Context, ptrace.Traces)
	now     func() time.Time

	held room // spans held (forward::queue_size)

	mu      sync.Mutex
	batches []heldBatch // in arrival order; the loop releases every one that is due
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

type heldBatch struct {
	td    ptrace.Traces
	spans int
	since time.Time
	due   time.Time
}

func newHoldBuffer(capacity int, m *metrics, now func() time.Time, release func(context.Context, ptrace.Traces)) *holdBuffer {
	h := &holdBuffer{
		held: newRoom(capacity), metrics: m, now: now, release: release,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go h.loop()
	return h
}

// reserve takes room for n spans; false when the buffer is full (the
// caller processes them at once and counts them, outcome full).
func (h *holdBuffer) reserve(n int) bool { return h.held.reserve(n) }

// add holds td, spans spans whose room is reserved, until due; once the
// buffer has stopped it gives the room back and returns false, td not
// taken.
func (h *holdBuffer) add(td ptrace.Traces, spans int, due time.Time) bool {
	b := heldBatch{td: td, spans: spans, since: h.now(), due: due}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		h.held.release(spans)
		return false
	}
	h.batches = append(h.batches, b)
	first := len(h.batches) == 1
	h.mu.Unlock()
	if first {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// holdPoll bounds how long the loop sleeps: the clock it compares due
// times with may not be the wall clock (tests).
const holdPoll = 50 * time.Millisecond

// loop releases the batches as they fall due.
func (h *holdBuffer) loop() {
	defer close(h.done)
	timer := time.NewTimer(holdPoll)
	defer timer.Stop()
	for {
		h.mu.Lock()
		stopped, now := h.stopped, h.now()
		var due []heldBatch
		sleep := holdPoll
		kept := h.batches[:0]
		for _, b := range h.batches {
			if stopped || !b.due.After(now) {
				due = append(due, b)
				continue
			}
			kept = append(kept, b)
			sleep = min(sleep, max(b.due.Sub(now), time.Millisecond))
		}
		clear(h.batches[len(kept):])
		h.batches = kept
		h.mu.Unlock()
		h.releaseAll(due)
		if stopped {
			return
		}
		timer.Reset(sleep)
		select {
		case <-h.wake:
		case <-timer.C:
		}
	}
}

func (h *holdBuffer) releaseAll(due []heldBatch) {
	ctx := context.Background()
	for _, b := range due {
		h.held.release(b.spans)
		h.metrics.held(ctx, holdReleased, b.spans, h.now().Sub(b.since))
		h.release(ctx, b.td)
	}
}

// stop releases everything held at once and ends the loop; from then on
// add refuses.
func (h *holdBuffer) stop() {
	h.mu.Lock()
	already := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if already {
		return
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
	<-h.done
}
