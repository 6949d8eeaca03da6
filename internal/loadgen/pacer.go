package loadgen

import (
	"context"
	"sync"
	"time"
)

// pacer hands out send times spaced interval apart, shared by all workers.
// When the senders fall behind (the collector paused, e.g. for a GC or a
// batch of tail-sampling decisions), they catch up on at most a second of
// sends, so that the rate holds over the run; a longer stall is not made up:
// the rate is a ceiling, never a reason to flood.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	burst    time.Duration
	next     time.Time
	now      func() time.Time
}

func newPacer(interval time.Duration, start time.Time) *pacer {
	burst := time.Second
	if burst < interval {
		burst = interval
	}
	return &pacer{interval: interval, burst: burst, next: start, now: time.Now}
}

// slot reserves the next send time.
func (p *pacer) slot() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.next
	if earliest := p.now().Add(-p.burst); t.Before(earliest) {
		t = earliest
	}
	p.next = t.Add(p.interval)
	return t
}

// wait blocks until the next slot; false when the slot is at or after stop
// (zero: no stop) or ctx ends first.
func (p *pacer) wait(ctx context.Context, stop time.Time) bool {
	t := p.slot()
	if !stop.IsZero() && !t.Before(stop) {
		return false
	}
	d := t.Sub(p.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
