package loadgen

import (
	"math"
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// counters are updated by every worker after each request.
type counters struct {
	requests                      atomic.Int64
	accReq, refReq, failReq       atomic.Int64
	accSpans, refSpans, failSpans atomic.Int64
	latency                       histogram
	mu                            sync.Mutex
	statuses                      map[string]*StatusCount
}

func newCounters() *counters { return &counters{statuses: map[string]*StatusCount{}} }

func (c *counters) record(o Outcome, spans int64, took time.Duration) {
	c.requests.Add(1)
	c.latency.observe(took)
	switch o.Kind {
	case Accepted:
		c.accReq.Add(1)
		c.accSpans.Add(spans - o.Rejected)
		if o.Rejected > 0 {
			c.refSpans.Add(o.Rejected)
			c.status(o, Refused, o.Rejected)
		}
	case Refused:
		c.refReq.Add(1)
		c.refSpans.Add(spans)
		c.status(o, Refused, spans)
	case Failed:
		c.failReq.Add(1)
		c.failSpans.Add(spans)
		c.status(o, Failed, spans)
	}
}

func (c *counters) status(o Outcome, kind OutcomeKind, spans int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := o.Status
	s, ok := c.statuses[key]
	if !ok {
		s = &StatusCount{Status: o.Status, Refused: kind == Refused, Message: o.Message}
		c.statuses[key] = s
	}
	s.Requests++
	s.Spans += spans
}

// snapshot returns the status tallies, most frequent first.
func (c *counters) statusList() []StatusCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]StatusCount, 0, len(c.statuses))
	for _, s := range c.statuses {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].Status < out[j].Status
	})
	return out
}

// histogram of latencies: 8 buckets per power of two of microseconds, so a
// quantile is known within 9 %.
type histogram struct {
	buckets [64 * subBuckets]atomic.Int64
	max     atomic.Int64
}

const subBuckets = 8

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // us in [2^exp, 2^(exp+1))
	sub := (us >> (exp - 3)) & (subBuckets - 1)
	return (exp-2)*subBuckets + int(sub)
}

// upperBound is the largest latency (µs) of bucket b.
func upperBound(b int) float64 {
	if b < subBuckets {
		return float64(b)
	}
	exp := b/subBuckets + 2
	sub := b % subBuckets
	return float64((uint64(subBuckets+sub+1) << (exp - 3)) - 1)
}

func (h *histogram) observe(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.buckets[bucketOf(uint64(us))].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the q-quantile in milliseconds (NaN when empty).
func (h *histogram) quantile(q float64) float64 {
	var total int64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return math.NaN()
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return math.Min(upperBound(i), float64(h.max.Load())) / 1000
		}
	}
	return float64(h.max.Load()) / 1000
}
