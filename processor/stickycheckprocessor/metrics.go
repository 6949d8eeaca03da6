package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

type reason int

const (
	reasonNone reason = iota
	reasonNotOwner
	reasonRingChange
	reasonSelfNotMember
	numReasons
)

func (r reason) String() string {
	return [...]string{"", "not_owner", "ring_change", "self_not_member"}[r]
}

// batchCounts adds up one batch, so that metrics are recorded once a batch.
type batchCounts struct {
	checked   int
	misrouted [numReasons]int
}

func (c *batchCounts) add(r reason) { c.misrouted[r]++ }

// counters holds the instruments with their attribute sets built once.
type counters struct {
	tb       *metadata.TelemetryBuilder
	byReason [numReasons][]metric.AddOption
}

func newCounters(tb *metadata.TelemetryBuilder) *counters {
	c := &counters{tb: tb}
	for r := reasonNotOwner; r < numReasons; r++ {
		c.byReason[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r.String())))}
	}
	return c
}

func (c *counters) record(ctx context.Context, b *batchCounts, dropped bool) {
	c.tb.ProcessorStickycheckSpansChecked.Add(ctx, int64(b.checked))
	misrouted := 0
	for r := reasonNotOwner; r < numReasons; r++ {
		if n := b.misrouted[r]; n > 0 {
			c.tb.ProcessorStickycheckSpansMisrouted.Add(ctx, int64(n), c.byReason[r]...)
			misrouted += n
		}
	}
	if dropped && misrouted > 0 {
		c.tb.ProcessorStickycheckSpansDropped.Add(ctx, int64(misrouted))
	}
}

// Reasons reports are dropped unsent (attribute reason of
// peer_reports_dropped).
const (
	dropQueueFull = iota
	dropExpired
	dropRefused
	dropShutdown
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "expired", "refused", "shutdown"}

// auditCounters holds the audit's instruments with their attribute sets
// built once.
type auditCounters struct {
	tb       *metadata.TelemetryBuilder
	byCause  [numCauses][]metric.AddOption
	byDrop   [numDropReasons][]metric.AddOption
	byReject map[string][]metric.AddOption
}

func newAuditCounters(tb *metadata.TelemetryBuilder) *auditCounters {
	c := &auditCounters{tb: tb, byReject: map[string][]metric.AddOption{}}
	for k := range numCauses {
		c.byCause[k] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("cause", k.String())))}
	}
	for r, name := range dropReasonNames {
		c.byDrop[r] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", name)))}
	}
	for _, name := range slices.Concat(rejectReasons, serverRejectReasons) {
		c.byReject[name] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", name)))}
	}
	return c
}

func (c *auditCounters) split(ctx context.Context, n *[numCauses]int) {
	for k, v := range n {
		if v > 0 {
			c.tb.ProcessorStickycheckTracesSplit.Add(ctx, int64(v), c.byCause[k]...)
		}
	}
}

func (c *auditCounters) evicted(ctx context.Context, n int) {
	if n > 0 {
		c.tb.ProcessorStickycheckTracesEvicted.Add(ctx, int64(n))
	}
}

func (c *auditCounters) dropped(ctx context.Context, reason, n int) {
	if n > 0 {
		c.tb.ProcessorStickycheckPeerReportsDropped.Add(ctx, int64(n), c.byDrop[reason]...)
	}
}

func (c *auditCounters) rejected(ctx context.Context, reason string) {
	c.tb.ProcessorStickycheckPeerReportsRejected.Add(ctx, 1, c.byReject[reason]...)
}
