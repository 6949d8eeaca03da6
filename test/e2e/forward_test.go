package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Ring disagreement, with forwarding on (STICKYCHECK_FORWARD=true): one-span traces sent
// straight to every gateway (as apps or agents of another ring would) are
// forwarded once, to their owner. Counted at the sink by trace: every trace
// reaches it from one gateway, none is lost or duplicated; traces_split is
// 0, and the spans forwarded equal the spans misrouted.
func TestStickycheckForwardsTheSpansThatBypassTheRing(t *testing.T) {
	const traces = 300
	run := testbed.StartTopology(t, "127.0.4", 3, map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s", "STICKYCHECK_FORWARD": "true"})
	ctx := context.Background()
	ids := testbed.TraceIDs(14, traces)
	for i, gw := range run.Gateways {
		sender, err := testbed.NewSender(gw.Addr(localtopo.PortOTLPGRPC))
		require.NoError(t, err)
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "cart", ids, i, i+1) // span i of every trace
		require.NoError(t, sender.Send(ctx, td))
		require.NoError(t, sender.Close())
	}
	n := len(run.Gateways)
	got := waitForSinkSpans(t, run.SinkFile, traces*n, 60*time.Second)
	spans := 0
	for _, id := range ids {
		gateways := map[string]bool{}
		seen := map[[8]byte]bool{}
		for _, s := range got[id] {
			gateways[s.Gateway] = true
			assert.Falsef(t, seen[s.SpanID], "span %s of trace %s duplicated", s.SpanID, id)
			seen[s.SpanID] = true
		}
		assert.Lenf(t, gateways, 1, "trace %s exported by %v", id, gateways)
		assert.Lenf(t, got[id], n, "trace %s: all its spans", id)
		spans += len(got[id])
	}
	assert.Equal(t, traces*n, spans, "no span lost")

	time.Sleep(2 * time.Second) // two flush intervals: any report would be in
	misrouted := gatewaySum(t, run, "otelcol_processor_stickycheck_spans_misrouted", nil)
	assert.EqualValues(t, traces*(n-1), misrouted, "each span reached one gateway; two of three are not the owner")
	assert.Equal(t, misrouted, gatewaySum(t, run, "otelcol_processor_stickycheck_spans_forwarded", map[string]string{"reason": "misrouted", "outcome": "sent"}))
	assert.Equal(t, misrouted, gatewaySum(t, run, "otelcol_processor_stickycheck_spans_forwarded", nil))
	assert.Equal(t, misrouted, gatewaySum(t, run, "otelcol_processor_stickycheck_spans_forwarded_received", nil))
	assert.Zero(t, gatewaySum(t, run, "otelcol_processor_stickycheck_traces_split", nil))
	bytes := gatewaySum(t, run, "otelcol_processor_stickycheck_forward_bytes_sent", nil)
	assert.Positive(t, bytes)
	t.Logf("%d spans forwarded in %.0f bytes", int(misrouted), bytes)
}
