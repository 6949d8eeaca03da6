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

type stickyCheck struct {
	cfg      *Config
	set      processor.Settings
	gen      ring.Generation
	self     string
	logger   *zap.Logger
	metrics  *metrics
	resolver ring.Resolver
	view     atomic.Pointer[view]
	changeMu sync.Mutex // serializes member list changes
	left     bool       // shut down: member lists are ignored (changeMu)
	audit    *audit     // nil without the audit section
	now      func() time.Time
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
	p.view.Store(&view{ring: ring.New(gen, nil), self: -1, first: true, grace: cfg.Grace})
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
	if p.audit != nil {
		env := auditEnv{
			self: p.self, views: &p.view, now: p.now, grace: p.cfg.Grace,
			metrics: p.metrics, logger: p.logger, telemetry: p.set.TelemetrySettings,
		}
		if err := p.audit.start(ctx, host, env); err != nil {
			return err
		}
	}
	p.resolver.OnChange(p.setMembers)
	return p.resolver.Start(ctx)
}

func (p *stickyCheck) shutdown(ctx context.Context) error {
	err := p.resolver.Shutdown(ctx)
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
	v := &view{
		ring: r, self: r.IndexOf(p.self), changedAt: p.now(), first: old.first && len(old.ring.Members()) == 0,
		grace: p.cfg.Grace, gen: old.gen + 1, prev: &old,
	}
	p.view.Store(v)
	if p.audit != nil {
		p.audit.ringChanged(&old, v)
	}

	p.metrics.ring(context.Background(), r, !v.first)
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
	next = &view{ring: ring.New(p.gen, members), self: -1, changedAt: p.now(), grace: p.cfg.Grace, gen: cur.gen + 1, prev: &cur}
	p.view.Store(next)
	return &cur, next
}

// processTraces checks each span; the ring lookup is done once per trace
// per batch, and so is the audit's record.
func (p *stickyCheck) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := newBatch(p.view.Load(), p.now())
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
	p.metrics.checked(ctx, b.checked, &b.misrouted, p.cfg.Action == ActionDrop)
	if p.audit != nil {
		p.audit.finish(ctx, b)
	}
	b.release()
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
