package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/tally"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
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

// metrics is the component's one path to its instruments (mdatagen's
// TelemetryBuilder): every count goes through one of its methods, with the
// attribute sets built once. The processor, the audit and the peer client
// and server share one.
type metrics struct {
	tb       *metadata.TelemetryBuilder
	byReason [numReasons][]metric.AddOption
	byCause  [tally.NumCauses][]metric.AddOption
	byDrop   [numDropReasons][]metric.AddOption
	byReject map[string][]metric.AddOption
	byFwd    [numFwdReasons][numFwdOutcomes][]metric.AddOption
	byHold   [numHoldOutcomes][]metric.AddOption
}

func newMetrics(tb *metadata.TelemetryBuilder) *metrics {
	m := &metrics{tb: tb, byReject: map[string][]metric.AddOption{}}
	for r := reasonNotOwner; r < numReasons; r++ {
		m.byReason[r] = withAttr("reason", r.String())
	}
	for k := range tally.NumCauses {
		m.byCause[k] = withAttr("cause", k.String())
	}
	for r, name := range dropReasonNames {
		m.byDrop[r] = withAttr("reason", name)
	}
	for _, name := range slices.Concat(wire.RejectReasons, serverRejectReasons) {
		m.byReject[name] = withAttr("reason", name)
	}
	for r, reason := range fwdReasonNames {
		for o, outcome := range fwdOutcomeNames {
			m.byFwd[r][o] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
				attribute.String("reason", reason), attribute.String("outcome", outcome)))}
		}
	}
	for o, name := range holdOutcomeNames {
		m.byHold[o] = withAttr("outcome", name)
	}
	return m
}

func withAttr(key, value string) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))}
}

func (m *metrics) shutdown() { m.tb.Shutdown() }

// checked records one batch's check: spans checked, misrouted by reason,
// and, with action drop, dropped.
func (m *metrics) checked(ctx context.Context, checked int, misrouted *[numReasons]int, dropped bool) {
	m.tb.ProcessorStickycheckSpansChecked.Add(ctx, int64(checked))
	n := 0
	for r := reasonNotOwner; r < numReasons; r++ {
		if k := misrouted[r]; k > 0 {
			m.tb.ProcessorStickycheckSpansMisrouted.Add(ctx, int64(k), m.byReason[r]...)
			n += k
		}
	}
	if dropped && n > 0 {
		m.tb.ProcessorStickycheckSpansDropped.Add(ctx, int64(n))
	}
}

// ring records a new member list; changed is false for the first one.
func (m *metrics) ring(ctx context.Context, r *ring.Ring, changed bool) {
	m.tb.ProcessorStickycheckRingMembers.Record(ctx, int64(len(r.Members())))
	m.tb.ProcessorStickycheckRingHash.Record(ctx, int64(r.Hash()))
	if changed {
		m.tb.ProcessorStickycheckRingChanges.Add(ctx, 1)
	}
}

func (m *metrics) split(ctx context.Context, n *[tally.NumCauses]int) {
	for k, v := range n {
		if v > 0 {
			m.tb.ProcessorStickycheckTracesSplit.Add(ctx, int64(v), m.byCause[k]...)
		}
	}
}

func (m *metrics) evicted(ctx context.Context, n int) {
	if n > 0 {
		m.tb.ProcessorStickycheckTracesEvicted.Add(ctx, int64(n))
	}
}

func (m *metrics) tracked(ctx context.Context, n int) {
	m.tb.ProcessorStickycheckTracesTracked.Record(ctx, int64(n))
}

// reportsSent records a message delivered: its reports and its bytes.
func (m *metrics) reportsSent(ctx context.Context, reports, bytes int) {
	m.tb.ProcessorStickycheckPeerReportsSent.Add(ctx, int64(reports))
	m.tb.ProcessorStickycheckPeerBytesSent.Add(ctx, int64(bytes))
}

func (m *metrics) reportsReceived(ctx context.Context, n int) {
	m.tb.ProcessorStickycheckPeerReportsReceived.Add(ctx, int64(n))
}

func (m *metrics) dropped(ctx context.Context, reason, n int) {
	if n > 0 {
		m.tb.ProcessorStickycheckPeerReportsDropped.Add(ctx, int64(n), m.byDrop[reason]...)
	}
}

func (m *metrics) rejected(ctx context.Context, reason string) {
	m.tb.ProcessorStickycheckPeerReportsRejected.Add(ctx, 1, m.byReject[reason]...)
}

// forwarded counts n spans forwarded for reason, with their outcome.
func (m *metrics) forwarded(ctx context.Context, reason fwdReason, outcome, n int) {
	if n > 0 {
		m.tb.ProcessorStickycheckSpansForwarded.Add(ctx, int64(n), m.byFwd[reason][outcome]...)
	}
}

func (m *metrics) forwardBytes(ctx context.Context, n int) {
	m.tb.ProcessorStickycheckForwardBytesSent.Add(ctx, int64(n))
}

// forwardedIn counts spans received from peers; draining tells whether this
// replica had left the ring.
func (m *metrics) forwardedIn(ctx context.Context, n int, draining bool) {
	m.tb.ProcessorStickycheckSpansForwardedReceived.Add(ctx, int64(n))
	if draining {
		m.tb.ProcessorStickycheckDrainSpansReceived.Add(ctx, int64(n))
	}
}

func (m *metrics) drainKept(ctx context.Context, traces int) {
	m.tb.ProcessorStickycheckDrainTracesKept.Add(ctx, int64(traces))
}

// held counts n spans held after a ring change, with their outcome; wait is
// how long the released ones waited.
func (m *metrics) held(ctx context.Context, outcome, n int, wait time.Duration) {
	if n == 0 {
		return
	}
	m.tb.ProcessorStickycheckSpansHeld.Add(ctx, int64(n), m.byHold[outcome]...)
	if outcome == holdReleased {
		m.tb.ProcessorStickycheckHoldDuration.Record(ctx, float64(wait)/float64(time.Millisecond))
	}
}
