package stickycheckprocessor

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

var members = []string{"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"}

type harness struct {
	tel  *componenttest.Telemetry
	sink *consumertest.TracesSink
	proc processor.Traces
}

func newHarness(t *testing.T, self string, action Action) *harness {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Self, cfg.Action = self, action
	cfg.Resolver.Static = configoptional.Some(ring.StaticConfig{Hostnames: members})
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.TracesSink)
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, proc.Shutdown(context.Background())) })
	h := &harness{tel: tel, sink: sink, proc: proc}
	return h
}

// traces builds nTraces traces of spansPer spans each, with IDs from seed.
func traces(seed uint64, nTraces, spansPer int) (ptrace.Traces, []pcommon.TraceID) {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	ids := make([]pcommon.TraceID, nTraces)
	for i := range ids {
		binary.BigEndian.PutUint64(ids[i][:8], seed)
		binary.BigEndian.PutUint64(ids[i][8:], uint64(i)*0x9e3779b97f4a7c15+1)
		for j := range spansPer {
			s := spans.AppendEmpty()
			s.SetTraceID(ids[i])
			s.SetSpanID(pcommon.SpanID{byte(i), byte(j), 1})
		}
	}
	return td, ids
}

func (h *harness) sum(t *testing.T, name string, attrs map[string]string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_" + name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		match := true
		for k, v := range attrs {
			got, ok := dp.Attributes.Value(attribute.Key(k))
			match = match && ok && got.AsString() == v
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

func (h *harness) gauge(t *testing.T, name string) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_" + name)
	require.NoError(t, err)
	dps := m.Data.(metricdata.Gauge[int64]).DataPoints
	require.Len(t, dps, 1)
	return dps[0].Value
}

// owned counts the spans of td whose trace self owns.
func owned(td ptrace.Traces, self string) (owned, other int) {
	r := ring.New(ring.Current, members)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		if r.OwnerName(spans.At(i).TraceID()) == self {
			owned++
		} else {
			other++
		}
	}
	return owned, other
}

func TestPassCountsMisroutedSpansAndKeepsThem(t *testing.T) {
	h := newHarness(t, members[1], ActionPass)
	td, _ := traces(1, 300, 4)
	mine, others := owned(td, members[1])
	require.Positive(t, mine)
	require.Positive(t, others)

	require.NoError(t, h.proc.ConsumeTraces(context.Background(), td))
	assert.Equal(t, 1200, h.sink.SpanCount())
	assert.EqualValues(t, 1200, h.sum(t, "processor_stickycheck_spans_checked", nil))
	assert.EqualValues(t, others, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "not_owner"}))
	assert.EqualValues(t, 0, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "ring_change"}))
	assert.EqualValues(t, 3, h.gauge(t, "processor_stickycheck_ring_members"))
	assert.EqualValues(t, ring.New(ring.Current, members).Hash(), h.gauge(t, "processor_stickycheck_ring_hash"))
	assert.EqualValues(t, 0, h.sum(t, "processor_stickycheck_ring_changes", nil), "the first member list is no change")
}

func TestTagNamesTheExpectedOwner(t *testing.T) {
	h := newHarness(t, members[0], ActionTag)
	td, _ := traces(2, 100, 2)
	require.NoError(t, h.proc.ConsumeTraces(context.Background(), td))
	r := ring.New(ring.Current, members)
	out := h.sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, 200, out.Len())
	tagged := 0
	for i := 0; i < out.Len(); i++ {
		s := out.At(i)
		owner, ok := s.Attributes().Get(attrOwner)
		if r.OwnerName(s.TraceID()) == members[0] {
			assert.False(t, ok, "an owned span is not tagged")
			continue
		}
		tagged++
		require.True(t, ok)
		assert.Equal(t, r.OwnerName(s.TraceID()), owner.Str())
		reason, _ := s.Attributes().Get(attrReason)
		assert.Equal(t, "not_owner", reason.Str())
	}
	assert.EqualValues(t, tagged, h.sum(t, "processor_stickycheck_spans_misrouted", nil))
}

func TestDropRemovesMisroutedSpans(t *testing.T) {
	h := newHarness(t, members[2], ActionDrop)
	td, _ := traces(3, 200, 3)
	mine, others := owned(td, members[2])
	require.NoError(t, h.proc.ConsumeTraces(context.Background(), td))
	assert.Equal(t, mine, h.sink.SpanCount())
	assert.EqualValues(t, others, h.sum(t, "processor_stickycheck_spans_dropped", nil))

	// A batch of misrouted spans only is dropped whole, not passed on empty.
	h.sink.Reset()
	td, ids := traces(4, 50, 1)
	only := ptrace.NewTraces()
	spans := only.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i, id := range ids {
		if ring.New(ring.Current, members).OwnerName(id) != members[2] {
			td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(i).CopyTo(spans.AppendEmpty())
		}
	}
	require.NoError(t, h.proc.ConsumeTraces(context.Background(), only))
	assert.Zero(t, h.sink.SpanCount())
	assert.Empty(t, h.sink.AllTraces())
}

func TestSelfNotMemberIsCountedApart(t *testing.T) {
	h := newHarness(t, "10.0.0.9:4317", ActionPass)
	td, _ := traces(5, 10, 2)
	require.NoError(t, h.proc.ConsumeTraces(context.Background(), td))
	assert.EqualValues(t, 20, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "self_not_member"}))
	assert.EqualValues(t, 0, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "not_owner"}))
	assert.Equal(t, 20, h.sink.SpanCount())
}

func TestMisroutesWithinGraceOfAChangeCountAsRingChange(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Self, cfg.Grace = members[0], 30*time.Second
	cfg.Resolver.Static = configoptional.Some(ring.StaticConfig{Hostnames: members})
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sc, err := newStickyCheck(set, cfg)
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	sc.now = func() time.Time { return now }
	sc.setMembers(members)
	h := &harness{tel: tel}

	td, _ := traces(6, 200, 1)
	_, others := owned(td, members[0])
	_, err = sc.processTraces(context.Background(), td)
	require.NoError(t, err)
	assert.EqualValues(t, others, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "not_owner"}))

	// A fourth member joins: for 30 s, misroutes are blamed on the change.
	grown := append(append([]string{}, members...), "10.0.0.4:4317")
	sc.setMembers(grown)
	assert.EqualValues(t, 1, h.sum(t, "processor_stickycheck_ring_changes", nil))
	now = now.Add(10 * time.Second)
	_, err = sc.processTraces(context.Background(), td)
	require.NoError(t, err)
	r := ring.New(ring.Current, grown)
	afterChange := 0
	for i := 0; i < 200; i++ {
		if r.OwnerName(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(i).TraceID()) != members[0] {
			afterChange++
		}
	}
	assert.EqualValues(t, afterChange, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "ring_change"}))

	now = now.Add(25 * time.Second)
	_, err = sc.processTraces(context.Background(), td)
	require.NoError(t, err)
	assert.EqualValues(t, others+afterChange, h.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "not_owner"}))
}

func TestOwnerCacheIsExact(t *testing.T) {
	var c ownerCache
	ids := make([][16]byte, 400)
	for i := range ids {
		binary.BigEndian.PutUint64(ids[i][:8], uint64(i%3))
		binary.BigEndian.PutUint64(ids[i][8:], uint64(i))
	}
	c.reset()
	for i := range ids {
		_, h, ok := c.get(&ids[i])
		require.False(t, ok)
		c.put(&ids[i], h, i)
	}
	for i := range ids {
		if owner, _, ok := c.get(&ids[i]); ok {
			assert.Equal(t, i, owner)
		}
	}
	hits := 0
	for i := range ids {
		if _, _, ok := c.get(&ids[i]); ok {
			hits++
		}
	}
	assert.GreaterOrEqual(t, hits, cacheSlots*3/4, "the cache holds up to three quarters of its slots")
}
