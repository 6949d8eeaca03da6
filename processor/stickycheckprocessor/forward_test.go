package stickycheckprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

const (
	mForwarded = "processor_stickycheck_spans_forwarded"
	mHeld      = "processor_stickycheck_spans_held"
)

func withForward(edit func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Forward.Enabled = true
		if edit != nil {
			edit(c)
		}
	}
}

// where counts, from the replicas' sinks (what each handed to the next
// consumer), the spans of each trace by replica: the truth, independent of
// the processor's counters.
func where(rs tier) map[pcommon.TraceID]map[string]int {
	out := map[pcommon.TraceID]map[string]int{}
	for _, r := range rs {
		for _, td := range r.sink.AllTraces() {
			rss := td.ResourceSpans()
			for i := 0; i < rss.Len(); i++ {
				sss := rss.At(i).ScopeSpans()
				for j := 0; j < sss.Len(); j++ {
					spans := sss.At(j).Spans()
					for k := 0; k < spans.Len(); k++ {
						id := spans.At(k).TraceID()
						if out[id] == nil {
							out[id] = map[string]int{}
						}
						out[id][r.member]++
					}
				}
			}
		}
	}
	return out
}

// waitSpans waits until the tier's sinks hold n spans.
func waitSpans(t *testing.T, rs tier, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, r := range rs {
			got += r.sink.SpanCount()
		}
		if got >= n {
			require.Equal(t, n, got, "no span is duplicated")
			return
		}
		require.Truef(t, time.Now().Before(deadline), "%d of %d spans reached the sinks", got, n)
		time.Sleep(10 * time.Millisecond)
	}
}

// Spans sent straight to every replica (apps or agents whose ring differs)
// are forwarded once, to the owner: every trace reaches one sink, nothing
// is split, and each replica's forwarded spans equal its misrouted ones.
func TestForwardMisroutedSpansToTheOwner(t *testing.T) {
	members := freeMembers(t, "127.0.60", 1, 3)
	rs := startTier(t, members, members, withForward(nil))
	ids := testbed.TraceIDs(601, 300)
	for _, r := range rs {
		r.send(t, ids, 0)
	}
	waitSpans(t, rs, 3*len(ids))
	owners := byOwner(members, ids)
	for id, at := range where(rs) {
		require.Lenf(t, at, 1, "trace %s reached %v", id, at)
		for m, n := range at {
			assert.Equal(t, 3, n)
			assert.Contains(t, owners[m], id, "at its owner")
		}
	}
	rs.settle(t)
	assert.Zero(t, rs.sum(t, "processor_stickycheck_traces_split", nil))
	for _, r := range rs {
		misrouted := r.sum(t, "processor_stickycheck_spans_misrouted", nil)
		assert.EqualValues(t, len(ids)-len(owners[r.member]), misrouted)
		assert.Equal(t, misrouted, r.sum(t, mForwarded, map[string]string{"reason": "misrouted", "outcome": "sent"}), r.member)
		assert.EqualValues(t, misrouted, r.sum(t, mForwarded, nil))
	}
	assert.Zero(t, rs.sum(t, "processor_stickycheck_peer_reports_sent", nil), "forwarded spans need no reports")
}

// Two replicas that disagree on the ring, each thinking the other owns the
// traces: a forwarded span is processed where it arrives, never forwarded
// again (hop limit 1), so nothing loops; the receiver counts it misrouted.
func TestForwardNeverLoops(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 11, 2)
	a := startReplica(t, ms[0], ms, nil, withForward(nil))
	b := startReplica(t, ms[1], ms, nil, withForward(nil))
	ids := byOwner(ms, testbed.TraceIDs(602, 400))[ms[1]] // a forwards them to b
	// b sees a ring in which a owns them: b alone.
	b.resolver.set([]string{ms[0]})
	a.send(t, ids, 0)
	rs := tier{a, b}
	waitSpans(t, rs, len(ids))
	time.Sleep(100 * time.Millisecond) // a loop would show by now
	assert.EqualValues(t, len(ids), b.sink.SpanCount(), "processed where forwarded")
	assert.Zero(t, a.sink.SpanCount())
	assert.EqualValues(t, len(ids), a.sum(t, mForwarded, map[string]string{"outcome": "sent"}))
	assert.Zero(t, b.sum(t, mForwarded, nil), "a forwarded span is never forwarded again")
	assert.EqualValues(t, len(ids), b.sum(t, "processor_stickycheck_spans_misrouted", map[string]string{"reason": "self_not_member"}),
		"the receiver counts what it thinks someone else owns")
}

// A scale-out: the new owner gets a trace's next span before (and after)
// the old owner's handoff arrives. Within hold it holds the spans of traces
// it does not know whose previous owner is another member; released, they
// go to the holder the handoff named, and so do later spans: every trace
// stays on the replica that first got it, and nothing is forwarded before
// a handoff says where.
func TestForwardKeepsTracesWithTheirHolderThroughAScaleOut(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 21, 3)
	before := ms[:2]
	edit := withForward(func(c *Config) { c.Forward.Hold = time.Second })
	rs := tier{
		startReplica(t, ms[0], before, nil, edit),
		startReplica(t, ms[1], before, nil, edit),
		startReplica(t, ms[2], before, nil, edit),
	}
	// Past the hold of the first lists (a tier starting holds its first
	// spans, see TestForwardHoldsTheFirstSpansOfATierStartingCold).
	time.Sleep(1100 * time.Millisecond)
	ids := testbed.TraceIDs(603, 600)
	first := byOwner(before, ids)
	for _, r := range rs[:2] {
		r.send(t, first[r.member], 0)
	}
	moved := byOwner(ms, ids)[ms[2]] // the traces the new replica takes over
	require.NotEmpty(t, moved)
	// The new replica sees the new ring first, and gets span 1 before the
	// old owners have even seen the change (no handoff can have come).
	rs[2].resolver.set(ms)
	rs[2].send(t, moved, 1)
	rs[0].resolver.set(ms)
	rs[1].resolver.set(ms)
	rs.settle(t)
	rs[2].send(t, moved, 2) // after the handoffs
	waitSpans(t, rs, len(ids)+2*len(moved))
	for id, at := range where(rs) {
		require.Lenf(t, at, 1, "trace %s reached %v", id, at)
	}
	assert.EqualValues(t, len(moved), rs[2].sum(t, mHeld, map[string]string{"outcome": "released"}), "span 1 held")
	assert.EqualValues(t, 2*len(moved), rs[2].sum(t, mForwarded, map[string]string{"reason": "holder", "outcome": "sent"}), "spans 1 and 2 to the holder")
	assert.EqualValues(t, 2*len(moved), rs[2].sum(t, mForwarded, nil))
	assert.Zero(t, rs[2].sink.SpanCount())
	rs.settle(t)
	assert.Zero(t, rs.sum(t, "processor_stickycheck_traces_split", nil))
}

// A forward target that is down (nothing listens) or that hangs: the spans
// are processed locally, none lost, the outcome counted, and the pipeline
// never waits on it longer than the client's timeout.
func TestForwardToADeadOrHangingPeerProcessesLocally(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 31, 3)
	t.Cleanup(blackhole(t, peerAddress(ms[2], defaultPeerPort)))
	a := startReplica(t, ms[0], ms, nil, withForward(func(c *Config) {
		c.Audit.Get().Peer.Client.Timeout = 300 * time.Millisecond
	}))
	owners := byOwner(ms, testbed.TraceIDs(604, 600))
	start := time.Now()
	a.send(t, owners[ms[1]], 0) // down: connection refused
	a.send(t, owners[ms[2]], 0) // hangs
	assert.Less(t, time.Since(start), 200*time.Millisecond, "the data path never waits on a peer")
	waitSpans(t, tier{a}, len(owners[ms[1]])+len(owners[ms[2]]))
	assert.EqualValues(t, len(owners[ms[1]])+len(owners[ms[2]]), a.sum(t, mForwarded, map[string]string{"reason": "misrouted", "outcome": "failed"}))
	assert.Zero(t, a.sum(t, mForwarded, map[string]string{"outcome": "sent"}))
}

// A full forward queue means local processing and a count, never
// back-pressure.
func TestForwardQueueFullProcessesLocally(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 41, 2)
	t.Cleanup(blackhole(t, peerAddress(ms[1], defaultPeerPort)))
	a := startReplica(t, ms[0], ms, nil, withForward(func(c *Config) {
		c.Forward.QueueSize = 10
		c.Audit.Get().Peer.Client.Timeout = 300 * time.Millisecond
	}))
	ids := byOwner(ms, testbed.TraceIDs(605, 200))[ms[1]]
	a.send(t, ids[:5], 0) // queued, its send hangs
	a.send(t, ids[5:], 0) // no room
	waitSpans(t, tier{a}, len(ids))
	assert.EqualValues(t, len(ids)-5, a.sum(t, mForwarded, map[string]string{"outcome": "queue_full"}))
	assert.EqualValues(t, 5, a.sum(t, mForwarded, map[string]string{"outcome": "failed"}))
}

// Graceful scale-in: the leaving replica leaves the ring at once, hands its
// traces over naming itself their holder, and for the drain keeps taking
// the late spans its peers forward; the traces stay whole on it.
func TestForwardDrainKeepsTheLeavingReplicasTraces(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 51, 3)
	edit := withForward(func(c *Config) { c.Forward.Drain = 1500 * time.Millisecond })
	rs := tier{startReplica(t, ms[0], ms, nil, edit), startReplica(t, ms[1], ms, nil, edit), startReplica(t, ms[2], ms, nil, edit)}
	owners := byOwner(ms, testbed.TraceIDs(606, 600))
	leaving := rs[2]
	held := owners[leaving.member]
	leaving.send(t, held, 0)
	stopped := make(chan struct{})
	go func() { leaving.stop(t); close(stopped) }()
	// The peers still list it (DNS and the k8s resolver list a stopping
	// replica) and, once its handoffs are in, forward the late spans to it.
	after := byOwner(ms[:2], held)
	// (A peer that still sees the leaving replica as the owner sends its
	// handoff back to it, which forwards it on: wait until they rest.)
	deadline := time.Now().Add(5 * time.Second)
	for stable := 0; stable < 3; {
		sent, received := rs.sum(t, mSent, nil), rs.sum(t, "processor_stickycheck_peer_reports_received", nil)
		if received >= int64(len(held)) && sent == received {
			stable++
		} else {
			stable = 0
		}
		require.True(t, time.Now().Before(deadline), "handoffs did not arrive")
		time.Sleep(30 * time.Millisecond)
	}
	for _, r := range rs[:2] {
		r.resolver.set(ms[:2]) // they see it gone: its traces still go to it while it drains
		r.send(t, after[r.member], 1)
	}
	waitSpans(t, rs, 2*len(held))
	<-stopped
	for id, at := range where(rs) {
		require.Lenf(t, at, 1, "trace %s reached %v", id, at)
		assert.Equal(t, 2, at[leaving.member])
	}
	assert.EqualValues(t, len(held), leaving.sum(t, "processor_stickycheck_drain_traces_kept", nil))
	assert.EqualValues(t, len(held), leaving.sum(t, "processor_stickycheck_drain_spans_received", nil))
}

// A tier starting cold: each replica's first list counts as a change from
// the ring without it (it could be joining a running tier), so the spans
// of the traces it owns wait for a handoff for forward::hold. None comes:
// they are processed where they arrived, nothing is forwarded, nothing
// split, nothing lost.
func TestForwardHoldsTheFirstSpansOfATierStartingCold(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 61, 3)
	rs := startTier(t, ms, ms, withForward(func(c *Config) { c.Forward.Hold, c.Forward.Drain = 500*time.Millisecond, 0 }))
	ids := testbed.TraceIDs(607, 300)
	owners := byOwner(ms, ids)
	for _, r := range rs {
		r.send(t, owners[r.member], 0)
	}
	waitSpans(t, rs, len(ids))
	for _, r := range rs {
		assert.EqualValues(t, len(owners[r.member]), r.sink.SpanCount(), "processed where they arrived")
		assert.EqualValues(t, len(owners[r.member]), r.sum(t, mHeld, map[string]string{"outcome": "released"}), r.member)
	}
	assert.Zero(t, rs.sum(t, mForwarded, nil))
	rs.settle(t)
	assert.Zero(t, rs.sum(t, "processor_stickycheck_traces_split", nil))
}

// A replica joining a running tier: its first list has itself, the others'
// do not yet. It gets the next spans of the traces it takes over before the
// old owners have seen it: it holds them, the old owners' handoffs come,
// and the held spans (and later ones) go to the holder. No trace is split.
func TestForwardJoiningReplicaHoldsUntilTheHandoff(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 71, 3)
	before := ms[:2]
	edit := withForward(func(c *Config) { c.Forward.Hold, c.Forward.Drain = 1500*time.Millisecond, 0 })
	old := tier{startReplica(t, ms[0], before, nil, edit), startReplica(t, ms[1], before, nil, edit)}
	time.Sleep(1600 * time.Millisecond) // past the old replicas' own first hold
	ids := testbed.TraceIDs(608, 600)
	first := byOwner(before, ids)
	for _, r := range old {
		r.send(t, first[r.member], 0)
	}
	joining := startReplica(t, ms[2], ms, nil, edit)
	rs := append(old, joining)
	moved := byOwner(ms, ids)[ms[2]]
	require.NotEmpty(t, moved)
	joining.send(t, moved, 1) // before any handoff: held
	old.setMembers(ms)
	joining.send(t, moved, 2)
	waitSpans(t, rs, len(ids)+2*len(moved))
	for id, at := range where(rs) {
		require.Lenf(t, at, 1, "trace %s reached %v", id, at)
	}
	assert.Zero(t, joining.sink.SpanCount(), "the joining replica decides none of the traces it took over")
	// Span 1 is held; span 2 too if it came before the handoffs.
	held := joining.sum(t, mHeld, map[string]string{"outcome": "released"})
	assert.GreaterOrEqual(t, held, int64(len(moved)), "span 1 held")
	assert.LessOrEqual(t, held, int64(2*len(moved)))
	assert.EqualValues(t, 2*len(moved), joining.sum(t, mForwarded, map[string]string{"reason": "holder", "outcome": "sent"}))
	rs.settle(t)
	assert.Zero(t, rs.sum(t, "processor_stickycheck_traces_split", nil))
}

// A full hold buffer: the spans that find no room are processed at once,
// counted (outcome full), and none is lost or held twice.
func TestForwardHoldFullProcessesAtOnce(t *testing.T) {
	ms := freeMembers(t, "127.0.60", 81, 2)
	a := startReplica(t, ms[0], ms, nil, withForward(func(c *Config) {
		c.Forward.QueueSize = 10
		c.Forward.Hold = 500 * time.Millisecond
	}))
	ids := byOwner(ms, testbed.TraceIDs(609, 200))[ms[0]]
	a.send(t, ids[:10], 0) // held
	a.send(t, ids[10:], 0) // no room
	waitSpans(t, tier{a}, len(ids))
	assert.EqualValues(t, 10, a.sum(t, mHeld, map[string]string{"outcome": "released"}))
	assert.EqualValues(t, len(ids)-10, a.sum(t, mHeld, map[string]string{"outcome": "full"}))
	assert.Zero(t, a.sum(t, mForwarded, nil))
}
