package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

// Attributes added to misrouted spans with action tag.
const (
	attrOwner  = "stickycheck.expected_owner"
	attrReason = "stickycheck.reason"
)

type stickyCheck struct {
	cfg       *Config
	set       processor.Settings
	gen       ring.Generation
	self      string
	logger    *zap.Logger
	metrics   *metrics
	resolver  ring.Resolver
	view      atomic.Pointer[view]
	changeMu  sync.Mutex  // serializes member list changes
	left      bool        // shut down: member lists are ignored (changeMu)
	wasMember bool        // some list had self (changeMu)
	audit     *audit      // nil without the audit section
	fwd       *forwarder  // nil unless forwarding is on (it needs the audit)
	hold      *holdBuffer // with fwd
	next      consumer.Traces
	draining  atomic.Bool // left the ring at shutdown, receiving forwarded spans
	now       func() time.Time
}

func newStickyCheck(set processor.Settings, cfg *Config) (*stickyCheck, error) {
	gen, err := ring.ParseGeneration(cfg.Ring)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	resolver, err := ring.NewResolver(cfg.Resolver, set.Logger, nil)
	if err != nil {
		return nil, err
	}
	p := &stickyCheck{
		cfg: cfg, set: set, gen: gen, self: cfg.Self, logger: set.Logger,
		metrics: newMetrics(tb), resolver: resolver, now: time.Now,
	}
	first := newView(ring.New(gen, nil), cfg.Self, time.Time{}, cfg.Grace)
	first.first = true
	p.view.Store(first)
	if cfg.Audit.HasValue() {
		p.audit = newAudit(cfg.Audit.Get())
	}
	return p, nil
}

func (p *stickyCheck) start(ctx context.Context, host component.Host) error {
	if p.cfg.ResolveSelf {
		self, err := resolveSelf(ctx, p.cfg.Self)
		if err != nil {
			return err
		}
		p.self = self
		p.logger.Info("self resolved", zap.String("self", self))
	}
	forward := p.cfg.Forward.Enabled && p.audit != nil
	if p.cfg.Forward.Enabled && p.audit == nil {
		p.logger.Warn("stickycheck forward::enabled is set but the audit is off: spans are not forwarded")
	}
	if p.audit != nil {
		env := auditEnv{
			self: p.self, views: &p.view, now: p.now, grace: p.cfg.Grace,
			metrics: p.metrics, logger: p.logger, telemetry: p.set.TelemetrySettings,
			forward: forward, hold: p.cfg.Forward.Hold,
		}
		if forward {
			env.onSpans = p.receiveForwarded
		}
		if err := p.audit.start(ctx, host, env); err != nil {
			return err
		}
	}
	if forward {
		pc := &p.cfg.Audit.Get().Peer
		p.fwd = &forwarder{
			selfID: p.audit.selfID, http: p.audit.client.http, scheme: pc.peerScheme(), port: pc.Port,
			queued: newRoom(p.cfg.Forward.QueueSize), metrics: p.metrics, logger: p.logger,
			local: p.processHere, peers: map[string]*fwdPeer{},
		}
		p.hold = newHoldBuffer(p.cfg.Forward.QueueSize, p.metrics, p.now, p.releaseHeld)
	}
	p.resolver.OnChange(p.setMembers)
	return p.resolver.Start(ctx)
}

func (p *stickyCheck) shutdown(ctx context.Context) error {
	err := p.resolver.Shutdown(ctx)
	if p.fwd != nil {
		// What waits for a handoff is routed now, before this replica
		// leaves the ring.
		p.hold.stop()
		if p.cfg.Forward.Drain > 0 {
			p.drain(ctx)
		}
		p.fwd.stop()
	}
	if p.audit != nil {
		err = errors.Join(err, p.audit.shutdown(ctx, p.leave))
	}
	p.metrics.shutdown()
	return err
}

// setMembers installs the ring of a new member list.
func (p *stickyCheck) setMembers(members []string) {
	p.changeMu.Lock()
	defer p.changeMu.Unlock()
	if p.left {
		return // a resolver that calls back after its shutdown
	}
	old := *p.view.Load()
	old.prev = nil
	r := ring.New(p.gen, members)
	v := newView(r, p.self, p.now(), p.cfg.Grace)
	v.first = old.first && len(old.ring.Members()) == 0
	v.gen, v.prev = old.gen+1, &old
	if v.first && v.self >= 0 && len(members) > 1 {
		// This replica's first list: it may be joining a running tier, whose
		// agents and members still route by the ring without it. Routing
		// takes that ring as the one before (forward::hold), so spans of a
		// trace its previous owner holds go there; misroutes are not blamed
		// on a change (first stays true: a tier starting has no change).
		v.prev = newView(p.ringWithoutSelf(v), p.self, time.Time{}, p.cfg.Grace)
		v.prev.gen = old.gen
	}
	p.view.Store(v)
	if p.audit != nil {
		p.audit.ringChanged(&old, v)
	}

	p.metrics.ring(context.Background(), r, !v.first)
	fields := []zap.Field{zap.Strings("members", r.Members()), zap.String("ring", string(p.gen)), zap.Uint64("ring_hash", r.Hash())}
	if v.self < 0 {
		if !p.wasMember && len(r.Members()) > 0 {
			// A replica is listed once it is ready (a headless Service's DNS,
			// compose's readydns): not yet listed is not yet wrong. Warn if
			// it still is not after grace.
			p.logger.Info("self is not listed in the ring yet (a replica is listed once it is ready)", append(fields, zap.String("self", p.self))...)
			gen := v.gen
			time.AfterFunc(p.cfg.Grace, func() { p.warnNotMember(gen, fields) })
			return
		}
		p.warnNotMember(v.gen, fields)
		return
	}
	p.wasMember = true
	p.logger.Info("ring members changed", fields...)
}

// warnNotMember warns that self is not in the ring, if the view of
// generation gen is still the current one.
func (p *stickyCheck) warnNotMember(gen uint64, fields []zap.Field) {
	if v := p.view.Load(); v.gen != gen || v.self >= 0 {
		return
	}
	p.logger.Warn(fmt.Sprintf("self %q is not a member of the ring: its spans count as misrouted with reason self_not_member; "+
		"check that self is written exactly as the agents' resolver names this replica", p.self), fields...)
}

// ringWithoutSelf is v's ring without this replica (a member of it): the
// ring before it joined, or after it leaves.
func (p *stickyCheck) ringWithoutSelf(v *view) *ring.Ring {
	return ring.New(p.gen, slices.Delete(slices.Clone(v.ring.Members()), v.self, v.self+1))
}

// leave installs the view of the ring without this replica and ignores the
// member lists that may still come; it returns the view before and the new
// one, or nil when this replica is not a member (it owns nothing).
func (p *stickyCheck) leave() (old, next *view) {
	p.changeMu.Lock()
	defer p.changeMu.Unlock()
	p.left = true
	cur := *p.view.Load()
	cur.prev = nil
	if cur.self < 0 {
		return nil, nil
	}
	next = newView(p.ringWithoutSelf(&cur), "", p.now(), p.cfg.Grace)
	next.gen, next.prev = cur.gen+1, &cur
	p.view.Store(next)
	return &cur, next
}

// processTraces checks each span; the ring lookup is done once per trace
// per batch, and so is the audit's record. With forwarding, the spans of
// traces held or owned by another replica leave the batch for it.
func (p *stickyCheck) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	return p.process(ctx, td, fromPipeline)
}

// Where the spans a call of process works on come from.
type origin uint8

const (
	// fromPipeline: the receivers; checked, counted and routed.
	fromPipeline origin = iota
	// fromPeer: forwarded by a peer; checked and counted here, never
	// forwarded again (hop limit 1).
	fromPeer
	// fromFailedForward: spans whose forward failed; counted already,
	// processed here.
	fromFailedForward
	// fromHold: released from the hold buffer; counted already, routed
	// again.
	fromHold
)

// process checks, counts (unless counted already), records and routes td
// as its origin says.
func (p *stickyCheck) process(ctx context.Context, td ptrace.Traces, from origin) (ptrace.Traces, error) {
	b := newBatch(p.view.Load(), p.now())
	b.forwardedIn = from == fromPeer || from == fromFailedForward || p.fwd == nil
	b.released = from == fromHold
	if p.audit != nil {
		p.audit.begin(b)
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			b.checked += spans.Len()
			if p.cfg.Action == ActionDrop {
				spans.RemoveIf(func(s ptrace.Span) bool { return p.checkSpan(b, s) != reasonNone })
				continue
			}
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if reason := p.checkSpan(b, s); reason != reasonNone && p.cfg.Action == ActionTag {
					s.Attributes().PutStr(attrOwner, b.v.ring.OwnerName(s.TraceID()))
					s.Attributes().PutStr(attrReason, reason.String())
				}
			}
		}
	}
	if from == fromPeer && p.draining.Load() {
		// Left the ring: it owns nothing, and what peers forward while it
		// drains is what it holds, not misrouted.
		b.misrouted = [numReasons]int{}
	}
	if from == fromPipeline || from == fromPeer {
		p.metrics.checked(ctx, b.checked, &b.misrouted, p.cfg.Action == ActionDrop)
	}
	if p.audit != nil {
		p.audit.finish(ctx, b)
	}
	forwarded := len(b.fwd) > 0
	if forwarded {
		p.forward(ctx, td, b)
	}
	b.release()
	if p.cfg.Action == ActionDrop || forwarded {
		td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
			rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool { return ss.Spans().Len() == 0 })
			return rs.ScopeSpans().Len() == 0
		})
		if td.ResourceSpans().Len() == 0 {
			return td, processorhelper.ErrSkipProcessingData
		}
	}
	return td, nil
}

// consume processes spans that did not come through the pipeline (from a
// peer, back from a failed forward, or released from the hold buffer) and
// hands what stays here to the next consumer.
func (p *stickyCheck) consume(ctx context.Context, td ptrace.Traces, from origin) error {
	td, err := p.process(ctx, td, from)
	if errors.Is(err, processorhelper.ErrSkipProcessingData) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.next.ConsumeTraces(ctx, td)
}

// processHere processes spans on this replica, never forwarding them: spans
// whose forward failed, or that found no room to wait in.
func (p *stickyCheck) processHere(ctx context.Context, td ptrace.Traces) error {
	return p.consume(ctx, td, fromFailedForward)
}

// receiveForwarded processes the spans a peer forwarded (the peer server's
// callback).
func (p *stickyCheck) receiveForwarded(ctx context.Context, td ptrace.Traces) error {
	p.metrics.forwardedIn(ctx, td.SpanCount(), p.draining.Load())
	return p.consume(ctx, td, fromPeer)
}

// releaseHeld routes spans again once their hold is over (the hold
// buffer's callback).
func (p *stickyCheck) releaseHeld(ctx context.Context, td ptrace.Traces) {
	if err := p.consume(ctx, td, fromHold); err != nil {
		p.logger.Debug("stickycheck: released spans were refused downstream", zap.Error(err))
	}
}

// checkSpan looks the owner of the span's trace up (once per trace in the
// batch, which is when the audit observes the trace), counts and returns
// its check.
func (p *stickyCheck) checkSpan(b *batch, s ptrace.Span) reason {
	id := [16]byte(s.TraceID())
	owner, h, ok := b.cache.get(&id)
	if !ok {
		owner = b.v.owner(id)
		b.cache.put(&id, h, owner)
		if p.audit != nil {
			p.audit.observe(b, &id, h, owner)
		}
	}
	r := check(b.v, owner, b.withinGrace)
	b.misrouted[r]++
	return r
}

// check returns why a span of a trace whose owner under v is owner is
// misrouted, or reasonNone. It has no side effect.
func check(v *view, owner int, withinGrace bool) reason {
	switch {
	case v.self < 0:
		return reasonSelfNotMember
	case owner == v.self:
		return reasonNone
	case withinGrace:
		return reasonRingChange
	default:
		return reasonNotOwner
	}
}
