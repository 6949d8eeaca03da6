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

// view is the ring as this replica sees it at one moment.
type view struct {
	ring      *ring.Ring
	self      int // index of self in the ring's members, -1 when absent
	changedAt time.Time
	first     bool // the first list resolved: no agent can be behind it
	// gen counts the member lists; prev is the view before this one (without
	// its own prev), which the audit needs while it moves to this one.
	gen  uint64
	prev *view
}

type stickyCheck struct {
	cfg       *Config
	set       processor.Settings
	gen       ring.Generation
	self      string
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	metrics   *counters
	resolver  ring.Resolver
	view      atomic.Pointer[view]
	changeMu  sync.Mutex // serializes member list changes
	left      bool       // shut down: member lists are ignored (changeMu)
	audit     *audit     // nil without the audit section
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
		telemetry: tb, metrics: newCounters(tb), resolver: resolver, now: time.Now,
	}
	p.view.Store(&view{ring: ring.New(gen, nil), self: -1, first: true})
	if cfg.Audit.HasValue() {
		p.audit = newAudit(p, cfg.Audit.Get())
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
	if p.audit != nil {
		if err := p.audit.start(ctx, host); err != nil {
			return err
		}
	}
	p.resolver.OnChange(p.setMembers)
	return p.resolver.Start(ctx)
}

func (p *stickyCheck) shutdown(ctx context.Context) error {
	err := p.resolver.Shutdown(ctx)
	if p.audit != nil {
		err = errors.Join(err, p.audit.shutdown(ctx))
	}
	p.telemetry.Shutdown()
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
	v := &view{
		ring: r, self: r.IndexOf(p.self), changedAt: p.now(), first: old.first && len(old.ring.Members()) == 0,
		gen: old.gen + 1, prev: &old,
	}
	p.view.Store(v)
	if p.audit != nil {
		p.audit.ringChanged(&old, v)
	}

	ctx := context.Background()
	p.telemetry.ProcessorStickycheckRingMembers.Record(ctx, int64(len(r.Members())))
	p.telemetry.ProcessorStickycheckRingHash.Record(ctx, int64(r.Hash()))
	if !v.first {
		p.telemetry.ProcessorStickycheckRingChanges.Add(ctx, 1)
	}
	fields := []zap.Field{zap.Strings("members", r.Members()), zap.String("ring", string(p.gen)), zap.Uint64("ring_hash", r.Hash())}
	if v.self < 0 {
		p.logger.Warn(fmt.Sprintf("self %q is not a member of the ring: its spans count as misrouted with reason self_not_member; "+
			"check that self is written exactly as the agents' resolver names this replica", p.self), fields...)
		return
	}
	p.logger.Info("ring members changed", fields...)
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
	members := slices.Delete(slices.Clone(cur.ring.Members()), cur.self, cur.self+1)
	next = &view{ring: ring.New(p.gen, members), self: -1, changedAt: p.now(), gen: cur.gen + 1, prev: &cur}
	p.view.Store(next)
	return &cur, next
}

// processTraces checks each span; the ring lookup is done once per trace.
func (p *stickyCheck) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	v := p.view.Load()
	now := p.now()
	withinGrace := p.withinGrace(v, now)
	var c batchCounts
	var cache ownerCache
	var ab *auditBatch
	if p.audit != nil {
		ab = p.audit.begin(v, now, withinGrace)
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			c.checked += spans.Len()
			if p.cfg.Action == ActionDrop {
				spans.RemoveIf(func(s ptrace.Span) bool {
					reason := p.check(v, &cache, ab, s, withinGrace)
					c.add(reason)
					return reason != reasonNone
				})
				continue
			}
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				reason := p.check(v, &cache, ab, s, withinGrace)
				c.add(reason)
				if reason != reasonNone && p.cfg.Action == ActionTag {
					s.Attributes().PutStr(attrOwner, v.ring.OwnerName(s.TraceID()))
					s.Attributes().PutStr(attrReason, reason.String())
				}
			}
		}
	}
	p.metrics.record(ctx, &c, p.cfg.Action == ActionDrop)
	if ab != nil {
		p.audit.finish(ctx, ab)
	}
	if p.cfg.Action == ActionDrop {
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

// withinGrace tells whether misroutes under v are blamed on its change.
func (p *stickyCheck) withinGrace(v *view, now time.Time) bool {
	return !v.first && now.Sub(v.changedAt) < p.cfg.Grace
}

// check returns why the span is misrouted, or reasonNone. The first span of
// each trace in the batch looks the owner up and, with the audit, records
// the trace.
func (p *stickyCheck) check(v *view, cache *ownerCache, ab *auditBatch, s ptrace.Span, withinGrace bool) reason {
	id := [16]byte(s.TraceID())
	owner, ok := cache.get(id)
	if !ok {
		owner = v.ring.Owner(id)
		cache.put(id, owner)
		if ab != nil {
			p.audit.observe(ab, &id, owner)
		}
	}
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
