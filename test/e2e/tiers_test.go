package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Every trace sent to the agent reaches the sink whole, and all spans of a
// trace passed through one gateway: the upstream load-balancing exporter on
// the agent keeps traces sticky even when their spans arrive in different
// requests.
func TestAgentGatewaysSinkKeepTracesWholeAndSticky(t *testing.T) {
	const (
		traces        = 1000
		spansPerTrace = 5
		tracesPerReq  = 100
	)
	run := testbed.StartTopology(t, "127.0.1", 3, map[string]string{
		"SAMPLING_PERCENTAGE": "100",
		"DECISION_WAIT":       "1s",
	})
	sender, err := testbed.NewSender(run.Agent.Addr(localtopo.PortOTLPGRPC))
	require.NoError(t, err)
	defer sender.Close()

	ids := testbed.TraceIDs(3, traces)
	// Each trace's spans are split over two requests, sent apart in time.
	for _, spans := range [][2]int{{0, 2}, {2, spansPerTrace}} {
		for i := 0; i < traces; i += tracesPerReq {
			td := ptrace.NewTraces()
			testbed.AppendSpans(td, "checkout", ids[i:i+tracesPerReq], spans[0], spans[1])
			require.NoError(t, sender.Send(context.Background(), td))
		}
	}

	got := waitForSinkSpans(t, run.SinkFile, traces*spansPerTrace, 90*time.Second)
	perGateway := requireWholeOnOneGateway(t, got, ids, spansPerTrace)
	// The ring spreads traces over all three replicas.
	require.Lenf(t, perGateway, 3, "traces per gateway: %v", perGateway)
	t.Logf("traces per gateway: %v", perGateway)
}

// requireWholeOnOneGateway checks that each trace of ids reached the sink
// whole — spans 0..spansPerTrace-1, each exactly once, nothing else — and
// through one gateway, and returns how many traces each gateway passed.
func requireWholeOnOneGateway(t *testing.T, got map[pcommon.TraceID][]testbed.SinkSpan, ids []pcommon.TraceID, spansPerTrace int) map[string]int {
	t.Helper()
	perGateway := map[string]int{}
	for _, id := range ids {
		spans := got[id]
		seen := map[pcommon.SpanID]int{}
		gateways := map[string]bool{}
		for _, s := range spans {
			seen[s.SpanID]++
			gateways[s.Gateway] = true
		}
		for i := range spansPerTrace {
			require.Equalf(t, 1, seen[testbed.SpanID(id, i)], "trace %s: span %d arrived %d times", id, i, seen[testbed.SpanID(id, i)])
		}
		require.Lenf(t, spans, spansPerTrace, "trace %s: unexpected spans", id)
		require.Lenf(t, gateways, 1, "trace %s passed through several gateways: %v", id, keys(gateways))
		for gw := range gateways {
			require.NotEmptyf(t, gw, "trace %s: no otelcol.gateway attribute", id)
			perGateway[gw]++
		}
	}
	return perGateway
}

// waitForSinkSpans polls the sink's file until it holds want spans (or more),
// and fails with the count it saw when the deadline passes.
func waitForSinkSpans(t *testing.T, path string, want int, timeout time.Duration) map[pcommon.TraceID][]testbed.SinkSpan {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := testbed.ReadSinkSpans(path)
		n := 0
		for _, s := range got {
			n += len(s)
		}
		if err == nil && n >= want {
			// Let anything duplicated or late land before judging.
			time.Sleep(2 * time.Second)
			got, err = testbed.ReadSinkSpans(path)
			require.NoError(t, err)
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink holds %d spans after %s, want %d (last read error: %v)", n, timeout, want, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, fmt.Sprintf("%q", k))
	}
	sort.Strings(out)
	return out
}
