package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/tally"
)

// fwdOut is what one batch forwards to one member.
type fwdOut struct {
	td     ptrace.Traces
	counts [numFwdReasons]int
	spans  int
	ok     bool // room reserved in the forwarder's queue (or taken out to hold)
	full   bool // held spans the hold buffer had no room for
	rs     ptrace.ResourceSpans
	ss     ptrace.ScopeSpans
	rsOf   int // the source resource spans rs copies, -1 none
	ssOf   int // the source scope spans ss copies
}

// forward moves the spans of the batch's forwarded traces (b.fwd) out of td
// into one Traces per destination, each under copies of its resource and
// scope, and queues them; a destination the queue has no room for keeps its
// spans here (outcome queue_full). The destination holdHere is the hold
// buffer: those spans wait there until their view's hold is over. It runs
// only when something is forwarded: in steady state it is never called, and
// allocates nothing.
func (p *stickyCheck) forward(ctx context.Context, td ptrace.Traces, b *batch) {
	dest := make(map[[16]byte]fwdTrace, len(b.fwd))
	for _, f := range b.fwd {
		dest[f.id] = f
	}
	outs := map[string]*fwdOut{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				f, ok := dest[[16]byte(spans.At(k).TraceID())]
				if !ok {
					continue
				}
				o := outs[f.dest]
				if o == nil {
					o = &fwdOut{rsOf: -1}
					outs[f.dest] = o
				}
				o.spans++
				o.counts[f.reason]++
			}
		}
	}
	for dest, o := range outs {
		if dest == holdHere {
			// Held spans leave the batch even when the buffer is full: then
			// they are processed here at once, recorded as this replica's.
			o.ok, o.td = true, ptrace.NewTraces()
			if o.full = !p.hold.reserve(o.spans); o.full {
				p.metrics.held(ctx, holdFull, o.spans, 0)
			}
			continue
		}
		if o.ok = p.fwd.reserve(o.spans); o.ok {
			o.td = ptrace.NewTraces()
			continue
		}
		for r, n := range o.counts {
			p.metrics.forwarded(ctx, fwdReason(r), fwdQueueFull, n)
		}
	}
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				f, ok := dest[[16]byte(s.TraceID())]
				if !ok {
					return false
				}
				o := outs[f.dest]
				if !o.ok {
					return false
				}
				if o.rsOf != i {
					o.rs = o.td.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(o.rs.Resource())
					o.rs.SetSchemaUrl(rs.SchemaUrl())
					o.rsOf, o.ssOf = i, -1
				}
				if o.ssOf != j {
					o.ss = o.rs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(o.ss.Scope())
					o.ss.SetSchemaUrl(ss.SchemaUrl())
					o.ssOf = j
				}
				s.MoveTo(o.ss.Spans().AppendEmpty())
				return true
			})
		}
	}
	for member, o := range outs {
		if !o.ok {
			continue
		}
		if member == holdHere {
			// Until the view's hold is over; a replica not in its own ring
			// holds for hold from now.
			due := b.v.changedAt.Add(p.cfg.Forward.Hold)
			if b.v.self < 0 {
				due = b.now.Add(p.cfg.Forward.Hold)
			}
			if o.full || !p.hold.add(o.td, o.spans, due) {
				if err := p.processHere(ctx, o.td); err != nil {
					p.logger.Debug("stickycheck: spans not held were refused downstream", zap.Error(err))
				}
			}
			continue
		}
		if !p.fwd.enqueue(member, o.td, o.counts) {
			// The forwarder stopped (shutdown): processed here.
			p.fwd.queued.release(o.spans)
			for r, n := range o.counts {
				p.metrics.forwarded(ctx, fwdReason(r), fwdFailed, n)
			}
			if err := p.processHere(ctx, o.td); err != nil {
				p.logger.Debug("stickycheck: spans not forwarded at shutdown were refused downstream", zap.Error(err))
			}
		}
	}
}

// drain runs at shutdown, after the receivers have stopped: this replica
// leaves the ring at once (its view without itself), hands every trace it
// remembers to its next owner — naming itself as the holder of those it
// processed, so the peers forward their late spans here — and keeps its peer
// server receiving them for forward::drain (or until ctx ends), feeding them
// to the next consumer, which shuts down after this processor.
func (p *stickyCheck) drain(ctx context.Context) {
	a := p.audit
	old, next := p.leave()
	if next == nil {
		return
	}
	kept := a.heldTraces()
	a.moveTraces(old, next, a.client.enqueue)
	a.client.flushSoon()
	p.draining.Store(true)
	p.metrics.drainKept(ctx, kept)
	p.logger.Info("stickycheck left the ring and drains: peers forward the late spans of the traces it holds",
		zap.Int("traces", kept), zap.Duration("drain", p.cfg.Forward.Drain))
	t := time.NewTimer(p.cfg.Forward.Drain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// heldTraces counts the traces this replica processed spans of and still
// remembers.
func (a *audit) heldTraces() int {
	n := 0
	for i := range a.table.Shards {
		sh := &a.table.Shards[i]
		sh.Mu.Lock()
		for j := range sh.Slots {
			if e := &sh.Slots[j]; e.ID != table.ZeroID && e.Flags&tally.Local != 0 {
				n++
			}
		}
		sh.Mu.Unlock()
	}
	return n
}
