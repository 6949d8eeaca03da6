package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Through the agent's load-balancing exporter no span is misrouted; spans
// sent around it, straight to every gateway, are counted exactly: one
// misroute for each span that reached a replica other than its trace's owner.
// The split-trace audit (on in the gateway config) counts each of those
// traces once across the tier, over the gateways' peer protocol, and the
// clean traces cause neither counts nor peer traffic.
func TestStickycheckCountsExactlyTheSpansThatBypassTheRing(t *testing.T) {
	const (
		traces        = 10_000
		spansPerTrace = 2
		bypassed      = 300
	)
	// The audit alone: forwarding (on in the shipped config) would keep these
	// traces whole; TestStickycheckForwardsTheSpansThatBypassTheRing shows it.
	run := testbed.StartTopology(t, "127.0.3", 3, map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s", "STICKYCHECK_FORWARD": "false"})
	ctx := context.Background()
	agent, err := testbed.NewSender(run.Agent.Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer agent.Close()

	ids := testbed.TraceIDs(4, traces)
	for i := 0; i < traces; i += 500 {
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "cart", ids[i:i+500], 0, spansPerTrace)
		require.NoError(t, agent.Send(ctx, td))
	}
	waitForGatewaySum(t, run, "otelcol_processor_stickycheck_spans_checked", traces*spansPerTrace)
	assert.Zero(t, gatewaySum(t, run, "otelcol_processor_stickycheck_spans_misrouted", nil), "spans routed by the agent")

	// One more span of each of the first `bypassed` traces, sent to every
	// gateway directly.
	members := make([]string, len(run.Gateways))
	for i, gw := range run.Gateways {
		members[i] = gw.Addr(localtopo.PortOTLPGRPC)
	}
	r := ring.New(ring.Current, members)
	want := map[string]int{}
	for _, gw := range run.Gateways {
		sender, err := testbed.NewSender(gw.Addr(localtopo.PortOTLPGRPC))
		require.NoError(t, err)
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "cart", ids[:bypassed], spansPerTrace, spansPerTrace+1)
		require.NoError(t, sender.Send(ctx, td))
		require.NoError(t, sender.Close())
		for _, id := range ids[:bypassed] {
			if r.OwnerName([16]byte(id)) != gw.Addr(localtopo.PortOTLPGRPC) {
				want[gw.Name]++
			}
		}
	}
	waitForGatewaySum(t, run, "otelcol_processor_stickycheck_spans_checked", traces*spansPerTrace+bypassed*len(run.Gateways))
	total := 0
	for _, gw := range run.Gateways {
		m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
		require.NoError(t, err)
		assert.EqualValuesf(t, want[gw.Name], m.Sum("otelcol_processor_stickycheck_spans_misrouted", map[string]string{"reason": "not_owner"}), "misrouted on %s", gw.Name)
		assert.EqualValues(t, 3, m.Sum("otelcol_processor_stickycheck_ring_members", nil))
		assert.EqualValues(t, float64(r.Hash()), m.Sum("otelcol_processor_stickycheck_ring_hash", nil))
		total += want[gw.Name]
	}
	assert.Equal(t, bypassed*(len(run.Gateways)-1), total, "each bypassing span reached two non-owners")
	t.Logf("misrouted per gateway: %v", want)

	// Each non-owner reports each bypassing trace to its owner once; the
	// owner counts the trace once.
	waitForGatewaySum(t, run, "otelcol_processor_stickycheck_peer_reports_received", bypassed*(len(run.Gateways)-1))
	waitForGatewaySum(t, run, "otelcol_processor_stickycheck_traces_split", bypassed)
	time.Sleep(2 * time.Second) // two flush intervals: nothing more comes
	assert.EqualValues(t, bypassed, gatewaySum(t, run, "otelcol_processor_stickycheck_traces_split", map[string]string{"cause": "misrouted"}))
	assert.EqualValues(t, bypassed*(len(run.Gateways)-1), gatewaySum(t, run, "otelcol_processor_stickycheck_peer_reports_sent", nil),
		"no report for the clean traces")
	assert.Zero(t, gatewaySum(t, run, "otelcol_processor_stickycheck_peer_reports_dropped", nil))
	assert.Zero(t, gatewaySum(t, run, "otelcol_processor_stickycheck_peer_reports_rejected", nil))
	for _, gw := range run.Gateways {
		m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
		require.NoError(t, err)
		// The owner counts: the replica that owns more bypassing traces
		// counts more of them.
		owned := 0
		for _, id := range ids[:bypassed] {
			if r.OwnerName([16]byte(id)) == gw.Addr(localtopo.PortOTLPGRPC) {
				owned++
			}
		}
		assert.EqualValuesf(t, owned, m.Sum("otelcol_processor_stickycheck_traces_split", nil), "split traces counted by %s, their owner", gw.Name)
	}
}

func gatewaySum(t *testing.T, run *localtopo.Running, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, gw := range run.Gateways {
		m, err := testbed.Scrape(gw.Addr(localtopo.PortMetrics))
		require.NoError(t, err)
		sum += m.Sum(name, labels)
	}
	return sum
}

// waitForGatewaySum polls the gateways' self-telemetry until the counter,
// summed over them, reaches want; it fails when it overshoots or times out.
func waitForGatewaySum(t *testing.T, run *localtopo.Running, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := gatewaySum(t, run, name, nil)
		if int(got) == want {
			return
		}
		require.LessOrEqualf(t, int(got), want, "%s overshot", name)
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 60s, want %d", name, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
