package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// A forward target killed (SIGKILL) mid-forward, the built binary with the
// shipped gateway config: spans of traces gateway 2 owns are sent straight
// to gateway 1, which forwards them; gateway 2 is killed while they flow.
// Counted at the sink by trace and span ID: every span sent from the kill
// on arrives (gateway 1 processes what it cannot forward, counted
// outcome="failed"); what is lost is at most what gateway 2 had accepted
// and still held in tail sampling's memory (inherent to a kill).
func TestForwardTargetKilledMidForward(t *testing.T) {
	const batches, perBatch, killAfter = 40, 25, 15
	topo, err := localtopo.Plan(localtopo.Options{
		Net: "127.0.157", Gateways: 2, ConfigDir: filepath.Join(testbed.RepoRoot(), "configs"), WorkDir: t.TempDir(),
		Env: map[string]string{"SAMPLING_PERCENTAGE": "100", "DECISION_WAIT": "1s"},
	})
	require.NoError(t, err)
	require.NoError(t, localtopo.CheckPortsFree(append([]localtopo.Member{topo.Sink}, topo.Gateways...)))
	startMember(t, topo.Sink)
	startMember(t, topo.Gateways[0])
	g2 := startMember(t, topo.Gateways[1])
	members := []string{topo.Gateways[0].Addr(localtopo.PortOTLPGRPC), topo.Gateways[1].Addr(localtopo.PortOTLPGRPC)}
	r := ring.New(ring.Current, members)
	var ids []pcommon.TraceID
	for _, id := range testbed.TraceIDs(157, 4*batches*perBatch) {
		if r.OwnerName([16]byte(id)) == members[1] && len(ids) < batches*perBatch {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, batches*perBatch)

	sender, err := testbed.NewSender(members[0])
	require.NoError(t, err)
	defer sender.Close()
	for b := range batches {
		if b == killAfter {
			g2.Kill()
		}
		td := ptrace.NewTraces()
		testbed.AppendSpans(td, "cart", ids[b*perBatch:(b+1)*perBatch], 0, 2)
		require.NoError(t, sender.Send(context.Background(), td), "gateway 1 never refuses for a dead peer")
		time.Sleep(50 * time.Millisecond)
	}
	afterKill := ids[killAfter*perBatch:]
	got := waitDelivered(t, topo.SinkFile, afterKill, 2, 30*time.Second)
	lostAfter, dupAfter := tally(got, afterKill, 2)
	lostBefore, dupBefore := tally(readSink(t, topo.SinkFile), ids[:killAfter*perBatch], 2)

	m, err := testbed.Scrape(topo.Gateways[0].Addr(localtopo.PortMetrics))
	require.NoError(t, err)
	sent := m.Sum("otelcol_processor_stickycheck_spans_forwarded", map[string]string{"outcome": "sent"})
	failed := m.Sum("otelcol_processor_stickycheck_spans_forwarded", map[string]string{"outcome": "failed"})
	t.Logf("%d spans sent to gateway 1 for gateway 2's traces, gateway 2 killed after %d; gateway 1 forwarded %.0f (sent), %.0f failed and processed here; "+
		"lost at the sink: %d of the spans sent from the kill on, %d of those before (gateway 2's memory, at most the %.0f it accepted); duplicated %d",
		2*len(ids), 2*killAfter*perBatch, sent, failed, lostAfter, lostBefore, sent, dupAfter+dupBefore)
	assert.Zero(t, lostAfter, "spans sent from the kill on, lost")
	assert.Positive(t, failed, "forwards to the killed gateway counted outcome=failed")
	assert.LessOrEqual(t, float64(lostBefore), sent, "lost only what gateway 2 had accepted")
	assert.Zero(t, dupAfter+dupBefore, "duplicated spans")
}
