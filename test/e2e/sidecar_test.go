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

// A trace whose spans come through a sidecar and through the agent (a pod
// with a sidecar calling a service the node's agent serves, and back) reaches
// one gateway whole: the sidecar (configs/sidecar.yaml) routes by trace ID
// over the agent's ring, so no gateway's stickycheck counts a misroute.
// The sidecar is the sidecar tier's binary, whose load_balancing is the lean
// variant (tiers.yaml); the agent is the all-in-one, upstream's: the agent's
// routing is the oracle that the lean copy's must match trace for trace.
func TestSidecarAndAgentSendEachTraceToOneGateway(t *testing.T) {
	const (
		traces        = 1000
		spansPerTrace = 6
		tracesPerReq  = 100
	)
	run := testbed.StartLocalTopology(t, localtopo.Options{
		Net: "127.0.70", Gateways: 3, Sidecars: 1, SidecarBin: testbed.SidecarBinary(t),
		Env: map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "2s"},
	})
	ctx := context.Background()
	agent, err := testbed.NewSender(run.Agent.Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer agent.Close()
	sidecar, err := testbed.NewSender(run.Sidecars[0].Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer sidecar.Close()

	// Each trace's first half of spans goes through one of them, the second
	// half through the other; batches alternate which one starts.
	ids := testbed.TraceIDs(70, traces)
	half := spansPerTrace / 2
	for round, spans := range [][2]int{{0, half}, {half, spansPerTrace}} {
		for i := 0; i < traces; i += tracesPerReq {
			sender, service := agent, "checkout"
			if (i/tracesPerReq+round)%2 == 0 {
				sender, service = sidecar, "frontend"
			}
			td := ptrace.NewTraces()
			testbed.AppendSpans(td, service, ids[i:i+tracesPerReq], spans[0], spans[1])
			require.NoError(t, sender.Send(ctx, td))
		}
	}

	got := waitForSinkSpans(t, run.SinkFile, traces*spansPerTrace, 90*time.Second)
	perGateway := requireWholeOnOneGateway(t, got, ids, spansPerTrace)
	require.Lenf(t, perGateway, 3, "traces per gateway: %v", perGateway)

	waitForGatewaySum(t, run, "otelcol_processor_stickycheck_spans_checked", traces*spansPerTrace)
	assert.Zero(t, gatewaySum(t, run, "otelcol_processor_stickycheck_spans_misrouted", nil), "misrouted spans")
	m, err := testbed.Scrape(run.Sidecars[0].Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	assert.EqualValues(t, 3, m.Sum("otelcol_loadbalancer_num_backends", nil), "the sidecar's ring holds every gateway")
	t.Logf("traces per gateway: %v", perGateway)
}
