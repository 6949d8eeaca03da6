package stickycheckprocessor

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

const (
	mSplit     = "processor_stickycheck_traces_split"
	mSent      = "processor_stickycheck_peer_reports_sent"
	mReceived  = "processor_stickycheck_peer_reports_received"
	mDropped   = "processor_stickycheck_peer_reports_dropped"
	mBytes     = "processor_stickycheck_peer_bytes_sent"
	mMisrouted = "processor_stickycheck_spans_misrouted"
)

var (
	misrouted  = map[string]string{"cause": "misrouted"}
	ringChange = map[string]string{"cause": "ring_change"}
)

// Under a stable ring, each trace whose spans reached two or more replicas
// is counted once in the tier, by its owner, even when the owner got none
// of its spans; correctly routed traces cause no peer traffic at all.
func TestAuditCountsEachSplitTraceOnce(t *testing.T) {
	members := loopbackMembers("127.0.51", 3)
	rs := startTier(t, members, members, nil)
	truth := spread{}
	ids := testbed.TraceIDs(51, 500)

	// Routed as the agents route: two spans each, at the owner.
	for _, r := range rs {
		mine := byOwner(members, ids[:300])[r.member]
		r.send(t, mine, 0)
		r.send(t, mine, 1)
		truth.add(r.member, mine)
	}
	time.Sleep(100 * time.Millisecond) // five flush intervals
	rs.settle(t)
	assert.Zero(t, rs.sum(t, mSent, nil), "no peer traffic in steady state")
	assert.Zero(t, rs.sum(t, mBytes, nil))
	assert.Zero(t, rs.sum(t, mSplit, nil))

	// 100 traces: routed, then one more span straight to every replica.
	for _, r := range rs {
		routed := byOwner(members, ids[300:400])[r.member]
		r.send(t, routed, 0)
		truth.add(r.member, routed)
	}
	for _, r := range rs {
		r.send(t, ids[300:400], 1)
		truth.add(r.member, ids[300:400])
	}
	// 50 traces reach both non-owners and never their owner; 50 reach one
	// non-owner only (reported, but seen by one replica: not split).
	ring3 := ring.New(ring.Current, members)
	for i, id := range ids[400:500] {
		owner := ring3.IndexOf(ring3.OwnerName(id))
		for k := 1; k <= 2; k++ {
			if k == 2 && i >= 50 {
				break
			}
			r := rs.byMember(members[(owner+k)%3])
			r.send(t, []pcommon.TraceID{id}, 0)
			truth.add(r.member, []pcommon.TraceID{id})
		}
	}
	rs.settle(t)

	require.Equal(t, 150, truth.split())
	assert.EqualValues(t, 150, rs.sum(t, mSplit, misrouted))
	assert.Zero(t, rs.sum(t, mSplit, ringChange))
	assert.EqualValues(t, 2*100+2*50+50, rs.sum(t, mMisrouted, nil))
	assert.EqualValues(t, 2*100+2*50+50, rs.sum(t, mSent, nil), "each non-owner reports each trace once")
	assert.Zero(t, rs.sum(t, mDropped, nil))
}

// A scale event while traces are in flight: the replicas' rings change
// (from two members to three) while spans keep coming, and the agent
// follows a moment later. Each trace that straddles the change (spans at
// its old owner and at its new one) is counted once, with cause
// ring_change; a trace misrouted before the change keeps its one count
// (misrouted); traces that do not straddle it are not counted.
func TestAuditCountsTracesThatStraddleARingChange(t *testing.T) {
	all := loopbackMembers("127.0.52", 3)
	before, after := all[:2], all
	rs := startTier(t, all, before, func(c *Config) { c.Grace = time.Minute })
	truth := spread{}
	var truthMu sync.Mutex
	send := func(member string, ids []pcommon.TraceID, span int) {
		rs.byMember(member).send(t, ids, span)
		truthMu.Lock()
		truth.add(member, ids)
		truthMu.Unlock()
	}
	route := func(members []string, ids []pcommon.TraceID, span int) {
		for owner, mine := range byOwner(members, ids) {
			send(owner, mine, span)
		}
	}

	// Phase 1, stable ring of two: 400 traces, 50 of them misrouted too.
	early := testbed.TraceIDs(52, 400)
	route(before, early, 0)
	for owner, mine := range byOwner(before, early[:50]) {
		other := before[0]
		if other == owner {
			other = before[1]
		}
		send(other, mine, 1)
	}
	rs.settle(t)
	require.EqualValues(t, 50, rs.sum(t, mSplit, misrouted))

	// Phase 2: 600 traces in flight, two spans each, five rounds apart; the
	// replicas change their ring during round 10, the agent at round 20.
	// The early traces get their second span after the agent's change.
	inflight := testbed.TraceIDs(53, 600)
	var agent atomic.Pointer[[]string]
	agent.Store(&before)
	replicasChanged := make(chan struct{})
	const rounds, perRound, lag = 60, 10, 5
	for r := 0; r < rounds+lag; r++ {
		members := *agent.Load()
		if r < rounds {
			route(members, inflight[r*perRound:(r+1)*perRound], 0)
		}
		if r >= lag {
			route(members, inflight[(r-lag)*perRound:(r-lag+1)*perRound], 1)
		}
		switch r {
		case 10:
			go func() { rs.setMembers(after); close(replicasChanged) }()
		case 20:
			<-replicasChanged
			agent.Store(&after)
		}
		time.Sleep(5 * time.Millisecond)
	}
	route(after, early, 2)
	rs.settle(t)

	straddling := 0
	r1, r2 := ring.New(ring.Current, before), ring.New(ring.Current, after)
	for _, id := range append(early[50:], inflight...) {
		if len(truth[id]) >= 2 {
			straddling++
			require.NotEqual(t, r1.OwnerName(id), r2.OwnerName(id), "only traces whose owner changed straddle")
		}
	}
	t.Logf("split traces: %d misrouted before the change, %d straddling it (of %d)", 50, straddling, len(early)-50+len(inflight))
	require.Positive(t, straddling)
	require.Equal(t, 50+straddling, truth.split())
	assert.EqualValues(t, 50, rs.sum(t, mSplit, misrouted), "counted before the change, not again")
	assert.EqualValues(t, straddling, rs.sum(t, mSplit, ringChange))
	assert.Zero(t, rs.sum(t, mDropped, nil))
}

// Scale in: the ring loses a member, and its traces move to the others.
// A new owner whose tally reaches two replicas before the old owner's
// handoff arrives waits for it: when the old owner had counted the trace
// already, the tier does not count it again; when it had not, it counts it
// then; and when no handoff comes (the old owner never saw the trace), the
// split counts once grace has passed.
func TestAuditScaleInCountsOnceWhateverArrivesFirst(t *testing.T) {
	all := loopbackMembers("127.0.57", 3)
	after := all[:2]
	// A fake clock stands still, so that the handoffs are awaited however
	// slowly the test runs, until the test moves it past grace. The short
	// window only makes the sweeper look often.
	clk := useClock(t)
	// (grace stays below the window, as validation requires.)
	const grace = 700 * time.Millisecond
	rs := startTier(t, all, all, func(c *Config) {
		c.Grace = grace
		c.Audit.Get().Window = 800 * time.Millisecond
	})
	leaving := rs.byMember(all[2])
	r3, r2 := ring.New(ring.Current, all), ring.New(ring.Current, after)
	var moved []pcommon.TraceID // owned by the leaving replica, then by another
	for _, id := range testbed.TraceIDs(57, 3000) {
		if r3.OwnerName(id) == all[2] {
			moved = append(moved, id)
		}
	}
	require.GreaterOrEqual(t, len(moved), 300)
	counted, alone, unseen := moved[:100], moved[100:200], moved[200:300]
	newOwner := func(id pcommon.TraceID) *replica { return rs.byMember(r2.OwnerName(id)) }
	other := func(id pcommon.TraceID) *replica {
		if r2.OwnerName(id) == after[0] {
			return rs.byMember(after[1])
		}
		return rs.byMember(after[0])
	}
	each := func(ids []pcommon.TraceID, to func(pcommon.TraceID) *replica, span int) {
		for _, id := range ids {
			to(id).send(t, []pcommon.TraceID{id}, span)
		}
	}

	// Before: the leaving replica owns them all and gets spans of the first
	// two hundred; the first hundred also reach their next owner (split,
	// counted by the leaving replica).
	leaving.send(t, counted, 0)
	leaving.send(t, alone, 0)
	each(counted, newOwner, 1)
	rs.settle(t)
	require.EqualValues(t, 100, rs.sum(t, mSplit, misrouted))

	// The two that stay see the new ring first; spans reach both the new
	// owner and the other one before the leaving replica hands over.
	tier{rs[0], rs[1]}.setMembers(after)
	each(append(append([]pcommon.TraceID{}, counted...), alone...), other, 2)
	each(alone, newOwner, 3)
	each(unseen, newOwner, 0)
	each(unseen, other, 1)
	rs.settle(t)
	assert.EqualValues(t, 100, rs.sum(t, mSplit, nil), "nothing counted while the handoffs are awaited")

	leaving.resolver.set(after)
	rs.settle(t)
	assert.EqualValues(t, 100, rs.sum(t, mSplit, misrouted), "the leaving replica's counts are not repeated")
	assert.EqualValues(t, 100, rs.sum(t, mSplit, ringChange), "the traces it had seen alone, counted on its handoff")

	// The traces it never saw: no handoff comes, they count after grace.
	clk.advance(grace)
	deadline := time.Now().Add(10 * time.Second)
	for rs.sum(t, mSplit, ringChange) < 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	assert.EqualValues(t, 200, rs.sum(t, mSplit, ringChange))
	assert.EqualValues(t, 100, rs.sum(t, mSplit, misrouted))
}

// The table forgets traces a window after their last span, and counts the
// ones it had to forget earlier for lack of room; traces_tracked follows.
func TestAuditForgetsAfterTheWindowAndCountsEvictions(t *testing.T) {
	members := loopbackMembers("127.0.59", 1)
	r := startReplica(t, members[0], members, nil, func(c *Config) {
		c.Grace = 300 * time.Millisecond // at most the window
		c.Audit.Get().Window = 300 * time.Millisecond
		c.Audit.Get().MaxTraces = 100
	})
	gauge := func() int64 {
		m, err := r.tel.GetMetric("otelcol_processor_stickycheck_traces_tracked")
		if err != nil {
			return -1
		}
		dps := m.Data.(metricdata.Gauge[int64]).DataPoints
		return dps[len(dps)-1].Value
	}
	waitFor := func(want func(int64) bool, what string) {
		deadline := time.Now().Add(10 * time.Second)
		for !want(gauge()) {
			if time.Now().After(deadline) {
				t.Fatalf("traces_tracked %d: want %s", gauge(), what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	ids := testbed.TraceIDs(59, 160)
	r.send(t, ids[:60], 0)
	waitFor(func(n int64) bool { return n == 60 }, "60")
	waitFor(func(n int64) bool { return n == 0 }, "0 after the window")
	assert.Zero(t, r.sum(t, "processor_stickycheck_traces_evicted", nil), "expired, not evicted")

	r.send(t, ids, 1)
	evicted := r.sum(t, "processor_stickycheck_traces_evicted", nil)
	assert.GreaterOrEqual(t, evicted, int64(60), "160 traces in a table of 100")
	live := int64(0)
	for i := range r.sc.audit.table.Shards {
		sh := &r.sc.audit.table.Shards[i]
		sh.Mu.Lock()
		live += int64(sh.Live())
		sh.Mu.Unlock()
	}
	assert.EqualValues(t, 160, live+evicted)
}

// A peer port already taken fails the start, naming the setting; shutting
// the processor down after it is safe.
func TestAuditStartFailsOnATakenPeerPort(t *testing.T) {
	members := loopbackMembers("127.0.59", 2)
	ln, err := net.Listen("tcp", peerAddress(members[1], defaultPeerPort))
	require.NoError(t, err)
	defer ln.Close()
	cfg := auditConfig(members[1], members)
	set := processortest.NewNopSettings(metadata.Type)
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = proc.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "audit::peer::server: listening on 127.0.59.2:4319")
	require.NoError(t, proc.Shutdown(context.Background()))
}
