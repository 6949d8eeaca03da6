package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// Why spans are forwarded (attribute reason of spans_forwarded).
type fwdReason uint8

const (
	fwdHolder    fwdReason = iota // another replica holds the trace (the audit's tally)
	fwdMisrouted                  // another replica owns the trace
	numFwdReasons
)

var fwdReasonNames = [numFwdReasons]string{"holder", "misrouted"}

// What became of forwarded spans (attribute outcome of spans_forwarded).
const (
	fwdSent      = iota
	fwdFailed    // the peer was unreachable, timed out or answered 5xx: processed here
	fwdQueueFull // no room in the queue: processed here
	fwdRefused   // the peer answered 4xx: processed here
	numFwdOutcomes
)

var fwdOutcomeNames = [numFwdOutcomes]string{"sent", "failed", "queue_full", "refused"}

// fwdSpansPerMessage bounds the spans of one forwarded message.
const fwdSpansPerMessage = 4096

// forwarder sends spans to the replica that holds or owns their trace, one
// destination at a time and one message in flight per destination; spans
// that arrive for a destination meanwhile wait and go together (batching
// per destination). It never blocks the data path: room is reserved first
// (queue_size spans), and whatever cannot be sent — queue full, peer down,
// slow, refusing, or the forwarder stopping — is processed here (local),
// counted by outcome.
//
// Lock rule: mu guards the destinations' pending spans; the data path takes
// it to append (enqueue), the senders to take a batch. Nothing is sent,
// processed or logged under it.
type forwarder struct {
	selfID  uint64
	http    *http.Client
	scheme  string
	port    int
	metrics *metrics
	logger  *zap.Logger
	// local processes spans here, as if they had never been forwarded.
	local func(context.Context, ptrace.Traces) error

	queued room // spans waiting or in flight (forward::queue_size)

	mu      sync.Mutex
	peers   map[string]*fwdPeer
	stopped bool
	sends   sync.WaitGroup
}

type fwdPeer struct {
	pending  ptrace.Traces
	counts   [numFwdReasons]int // spans pending, by reason
	inflight bool
	failing  bool // the last send failed (logged once)
}

// reserve takes room for n spans; false when the queue is full.
func (f *forwarder) reserve(n int) bool { return f.queued.reserve(n) }

// enqueue hands td (whose spans' room is reserved, counts by reason) to the
// sender of member. It returns false, and td is not taken, when the
// forwarder has stopped.
func (f *forwarder) enqueue(member string, td ptrace.Traces, counts [numFwdReasons]int) bool {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return false
	}
	p := f.peers[member]
	if p == nil {
		p = &fwdPeer{pending: ptrace.NewTraces()}
		f.peers[member] = p
	}
	td.ResourceSpans().MoveAndAppendTo(p.pending.ResourceSpans())
	for r, n := range counts {
		p.counts[r] += n
	}
	start := !p.inflight
	p.inflight = true
	if start {
		f.sends.Add(1)
	}
	f.mu.Unlock()
	if start {
		go f.sendLoop(member, p)
	}
	return true
}

// sendLoop sends member's pending spans until there are none.
func (f *forwarder) sendLoop(member string, p *fwdPeer) {
	defer f.sends.Done()
	url := f.scheme + "://" + peerAddress(member, f.port) + wire.SpansPath
	var buf []byte
	for {
		f.mu.Lock()
		td, counts := p.pending, p.counts
		if td.ResourceSpans().Len() == 0 {
			p.inflight = false
			f.mu.Unlock()
			return
		}
		p.pending, p.counts = ptrace.NewTraces(), [numFwdReasons]int{}
		f.mu.Unlock()

		spans := td.SpanCount()
		outcome, detail := f.send(url, td, &buf)
		f.queued.release(spans)
		for r, n := range counts {
			f.metrics.forwarded(context.Background(), fwdReason(r), outcome, n)
		}
		if outcome != fwdSent {
			if err := f.local(context.Background(), td); err != nil {
				f.logger.Debug("stickycheck: spans not forwarded were refused downstream", zap.Error(err))
			}
		}
		f.mu.Lock()
		wasFailing := p.failing
		p.failing = outcome != fwdSent
		f.mu.Unlock()
		switch {
		case outcome != fwdSent && !wasFailing:
			f.logger.Warn("stickycheck could not forward spans; they are processed here (spans_forwarded{outcome})",
				zap.String("peer", member), zap.String("outcome", fwdOutcomeNames[outcome]), zap.String("detail", detail))
		case outcome == fwdSent && wasFailing:
			f.logger.Info("stickycheck forwards to the peer again", zap.String("peer", member))
		}
	}
}

// send posts td in messages of up to fwdSpansPerMessage spans; the first
// failure ends it, with its outcome. On failure nothing of td was taken by
// the peer except the messages before (which it processed): td keeps only
// what was not delivered.
func (f *forwarder) send(url string, td ptrace.Traces, buf *[]byte) (outcome int, detail string) {
	for td.ResourceSpans().Len() > 0 {
		chunk := takeSpans(td, fwdSpansPerMessage)
		var err error
		*buf, err = wire.AppendSpans((*buf)[:0], f.selfID, chunk)
		if err != nil {
			chunk.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
			return fwdFailed, err.Error()
		}
		status, msg, err := f.post(url, *buf)
		switch {
		case err == nil && status/100 == 2:
			f.metrics.forwardBytes(context.Background(), len(*buf))
			continue
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			outcome, detail = fwdRefused, fmt.Sprintf("HTTP %d: %s", status, msg)
		case err == nil:
			outcome, detail = fwdFailed, fmt.Sprintf("HTTP %d: %s", status, msg)
		default:
			outcome, detail = fwdFailed, err.Error()
		}
		chunk.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		return outcome, detail
	}
	return fwdSent, ""
}

func (f *forwarder) post(url string, body []byte) (status int, detail string, err error) {
	return postPeer(context.Background(), f.http, url, wire.SpansContentType, body)
}

// takeSpans moves whole resource spans from td into a new Traces until it
// holds at least max spans (or td is empty).
func takeSpans(td ptrace.Traces, maxSpans int) ptrace.Traces {
	out := ptrace.NewTraces()
	if td.SpanCount() <= maxSpans {
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
		return out
	}
	n := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		if n >= maxSpans {
			return false
		}
		for i := 0; i < rs.ScopeSpans().Len(); i++ {
			n += rs.ScopeSpans().At(i).Spans().Len()
		}
		rs.MoveTo(out.ResourceSpans().AppendEmpty())
		return true
	})
	return out
}

// stop waits for the sends in flight (each bounded by the client's
// timeout); from then on enqueue refuses, so spans are processed here.
func (f *forwarder) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.sends.Wait()
}
