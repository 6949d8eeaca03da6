package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"fmt"
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
}

type stickyCheck struct {
	cfg       *Config
	gen       ring.Generation
	self      string
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	metrics   *counters
	resolver  ring.Resolver
	view      atomic.Pointer[view]
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
		cfg: cfg, gen: gen, self: cfg.Self, logger: set.Logger,
		telemetry: tb, metrics: newCounters(tb), resolver: resolver, now: time.Now,
	}
	p.view.Store(&view{ring: ring.New(gen, nil), self: -1, first: true})
	return p, nil
}

func (p *stickyCheck) start(ctx context.Context, _ component.Host) error {
	if p.cfg.ResolveSelf {
		self, err := resolveSelf(ctx, p.cfg.Self)
		if err != nil {
			return err
		}
		p.self = self
		p.logger.Info("self resolved", zap.String("self", self))
	}
	p.resolver.OnChange(p.setMembers)
	return p.resolver.Start(ctx)
}

func (p *stickyCheck) shutdown(ctx context.Context) error {
	err := p.resolver.Shutdown(ctx)
	p.telemetry.Shutdown()
	return err
}

// setMembers installs the ring of a new member list.
func (p *stickyCheck) setMembers(members []string) {
	old := p.view.Load()
	r := ring.New(p.gen, members)
	v := &view{ring: r, self: r.IndexOf(p.self), changedAt: p.now(), first: old.first && len(old.ring.Members()) == 0}
	p.view.Store(v)

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

// processTraces checks each span; the ring lookup is done once per trace.
func (p *stickyCheck) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	v := p.view.Load()
	withinGrace := !v.first && p.now().Sub(v.changedAt) < p.cfg.Grace
	var c batchCounts
	var cache ownerCache
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			c.checked += spans.Len()
			if p.cfg.Action == ActionDrop {
				spans.RemoveIf(func(s ptrace.Span) bool {
					reason := p.check(v, &cache, s, withinGrace)
					c.add(reason)
					return reason != reasonNone
				})
				continue
			}
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				reason := p.check(v, &cache, s, withinGrace)
				c.add(reason)
				if reason != reasonNone && p.cfg.Action == ActionTag {
					s.Attributes().PutStr(attrOwner, v.ring.OwnerName(s.TraceID()))
					s.Attributes().PutStr(attrReason, reason.String())
				}
			}
		}
	}
	p.metrics.record(ctx, &c, p.cfg.Action == ActionDrop)
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

// check returns why the span is misrouted, or reasonNone.
func (p *stickyCheck) check(v *view, cache *ownerCache, s ptrace.Span, withinGrace bool) reason {
	if v.self < 0 {
		return reasonSelfNotMember
	}
	id := [16]byte(s.TraceID())
	owner, ok := cache.get(id)
	if !ok {
		owner = v.ring.Owner(id)
		cache.put(id, owner)
	}
	switch {
	case owner == v.self:
		return reasonNone
	case withinGrace:
		return reasonRingChange
	default:
		return reasonNotOwner
	}
}
