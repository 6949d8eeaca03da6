package stickycheckprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// sendEach gives each trace's span to the replica to names, one batch per
// replica, and notes it in truth.
func sendEach(t *testing.T, truth spread, ids []pcommon.TraceID, to func(pcommon.TraceID) *replica, span int) {
	t.Helper()
	batches := map[*replica][]pcommon.TraceID{}
	for _, id := range ids {
		r := to(id)
		batches[r] = append(batches[r], id)
	}
	for r, mine := range batches {
		r.send(t, mine, span)
		truth.add(r.member, mine)
	}
}

// ownedBy returns n trace IDs (from seed) that member owns under members.
func ownedBy(members []string, member string, seed uint64, n int) []pcommon.TraceID {
	r := ring.New(ring.Current, members)
	var out []pcommon.TraceID
	for _, id := range testbed.TraceIDs(seed, 20*n) {
		if r.OwnerName(id) == member && len(out) < n {
			out = append(out, id)
		}
	}
	return out
}

// A graceful scale-in as Docker and Kubernetes make it: the leaving replica
// shuts down while the others still list it (they see it gone only after it
// has exited). On shutdown it hands every trace it remembers to the owner
// under the ring without it; the others, still routing to it, send the
// handoffs back, keep them queued while it is unreachable, and take them
// themselves once they see it gone. Each trace whose spans reached the
// leaving replica and, later, its new owner is counted once, cause
// ring_change, whether those spans came before or after the new owner saw
// the change; so is a trace the leaving replica owned and only knew another
// replica to hold; a trace whose split it had counted is not counted again;
// a trace it alone saw is not counted.
func TestAuditLeavingReplicaHandsItsTracesOver(t *testing.T) {
	all := freeMembers(t, "127.0.58", 11, 3)
	after := all[:2]
	rs := startTier(t, all, all, nil)
	leaving := rs.byMember(all[2])
	stay := tier{rs[0], rs[1]}
	r2 := ring.New(ring.Current, after)
	newOwner := func(id pcommon.TraceID) *replica { return rs.byMember(r2.OwnerName(id)) }
	other := func(id pcommon.TraceID) *replica {
		if r2.OwnerName(id) == after[0] {
			return rs.byMember(after[1])
		}
		return rs.byMember(after[0])
	}
	at := func(r *replica) func(pcommon.TraceID) *replica { return func(pcommon.TraceID) *replica { return r } }

	moved := ownedBy(all, leaving.member, 580, 300)
	require.Len(t, moved, 300)
	continued, alone, counted, reported := moved[:100], moved[100:200], moved[200:250], moved[250:]
	truth := spread{}

	// Before: the leaving replica owns them all. It gets the first span of
	// continued, alone and counted; counted's second span reaches its next
	// owner (misrouted: counted by the leaving replica); reported's first
	// span reaches only the other replica (the leaving one tallies it).
	sendEach(t, truth, continued, at(leaving), 0)
	sendEach(t, truth, alone, at(leaving), 0)
	sendEach(t, truth, counted, at(leaving), 0)
	sendEach(t, truth, counted, newOwner, 1)
	sendEach(t, truth, reported, other, 0)
	rs.settle(t)
	require.EqualValues(t, 50, rs.sum(t, mSplit, misrouted))
	require.Zero(t, rs.sum(t, mSplit, ringChange))
	sentBefore := leaving.sum(t, mSent, nil)

	// It leaves: one handoff for each trace it owned and knew a holder of.
	leaving.stop(t)
	assert.EqualValues(t, 300, leaving.sum(t, mSent, nil)-sentBefore, "handoffs delivered on shutdown")
	assert.Zero(t, leaving.sum(t, mDropped, nil))

	// Half of continued's second spans reach the new owner while it still
	// lists the leaving replica (the agents saw the change first); then the
	// others see it gone, and the rest arrive.
	sendEach(t, truth, continued[:50], newOwner, 1)
	stay.setMembers(after)
	sendEach(t, truth, continued[50:], newOwner, 1)
	sendEach(t, truth, reported, newOwner, 1)
	sendEach(t, truth, counted, newOwner, 2)
	sendEach(t, truth, counted, other, 3)
	rs.settle(t)

	require.Equal(t, len(continued)+len(counted)+len(reported), truth.split())
	assert.EqualValues(t, 50, rs.sum(t, mSplit, misrouted), "counted before the leave, not again")
	assert.EqualValues(t, len(continued)+len(reported), rs.sum(t, mSplit, ringChange), "the traces that straddled the leave")
	assert.Zero(t, rs.sum(t, mDropped, nil))

	// Nothing bounces between the replicas afterwards.
	sent := rs.sum(t, mSent, nil)
	time.Sleep(10 * testFlushInterval)
	rs.settle(t)
	assert.Equal(t, sent, rs.sum(t, mSent, nil), "no report sent after the tier settled")
}

// A replica that restarts under the same name (a StatefulSet pod keeps its
// IP): the others never see it leave, so they send its handoffs back to it,
// and they reach it once it is up again. Nothing loops (each handoff makes
// one trip there and one back), nothing is counted twice (a split it had
// counted stays counted, spans it got before and after the restart are one
// replica's), and the tally it held goes on: another replica it knew to
// hold a trace and its own new spans count once.
func TestAuditReplicaRestartingUnderItsNameKeepsItsTallies(t *testing.T) {
	all := freeMembers(t, "127.0.58", 21, 3)
	rs := startTier(t, all, all, nil)
	old := rs.byMember(all[2])
	x := rs[0]
	ids := ownedBy(all, old.member, 581, 150)
	require.Len(t, ids, 150)
	heldByX, counted, alone := ids[:50], ids[50:100], ids[100:]
	truth := spread{}
	at := func(r *replica) func(pcommon.TraceID) *replica { return func(pcommon.TraceID) *replica { return r } }

	sendEach(t, truth, heldByX, at(x), 0)
	sendEach(t, truth, counted, at(old), 0)
	sendEach(t, truth, counted, at(x), 1)
	sendEach(t, truth, alone, at(old), 0)
	rs.settle(t)
	require.EqualValues(t, 50, rs.sum(t, mSplit, misrouted))
	othersSent := tier{rs[0], rs[1]}.sum(t, mSent, nil)

	old.stop(t)
	assert.EqualValues(t, 150, old.sum(t, mSent, nil), "one handoff a trace")
	restarted := startReplica(t, old.member, all, nil, nil)
	sendEach(t, truth, ids, at(restarted), 2)
	rs = tier{rs[0], rs[1], old, restarted}
	rs.settle(t)

	// By name, heldByX and counted reached two replicas; alone one.
	assert.Equal(t, 100, truth.split())
	assert.EqualValues(t, 50, rs.sum(t, mSplit, misrouted), "counted before the restart, not again")
	assert.EqualValues(t, 50, rs.sum(t, mSplit, ringChange), "the tally handed over completes on the restarted replica")
	assert.EqualValues(t, 150, tier{rs[0], rs[1]}.sum(t, mSent, nil)-othersSent, "each handoff sent back once")
	assert.EqualValues(t, 150, restarted.sum(t, mReceived, nil))
	assert.Zero(t, restarted.sum(t, mSent, nil), "the restarted replica forwards nothing")
	assert.Zero(t, rs.sum(t, mDropped, nil))
}

// A leave moves every trace the replica owns, far more than its queue holds
// (queue_size 100 here, 1,000 handoffs): the queue is delivered as it
// fills, and nothing is dropped.
func TestAuditLeaveIsNotLimitedByTheQueue(t *testing.T) {
	all := freeMembers(t, "127.0.59", 31, 2)
	leaving := startReplica(t, all[1], all, nil, func(c *Config) { c.Audit.Get().Peer.QueueSize = 100 })
	stays := startReplica(t, all[0], all, nil, nil)
	ids := ownedBy(all, leaving.member, 590, 1000)
	require.Len(t, ids, 1000)
	leaving.send(t, ids, 0)

	leaving.stop(t)
	assert.EqualValues(t, 1000, leaving.sum(t, mSent, nil))
	assert.Zero(t, leaving.sum(t, mDropped, nil))

	stays.resolver.set(all[:1])
	rs := tier{leaving, stays}
	rs.settle(t)
	assert.Zero(t, rs.sum(t, mSplit, nil), "traces the leaving replica alone saw")
	stays.send(t, ids, 1)
	rs.settle(t)
	assert.EqualValues(t, 1000, stays.sum(t, mSplit, ringChange), "each trace it handed over, once its next span comes")
}

// Shutting down with every peer down (nothing listens: refused) or hanging
// (accepts, never answers) returns without waiting out the peers: at once
// when they refuse, at the shutdown context's deadline when they hang. The
// handoffs and the queued reports are counted as dropped.
func TestAuditLeaveWithPeersDownReturnsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   int
		hang    bool
		timeout time.Duration
	}{
		{"refused", 41, false, time.Minute},
		{"hanging", 51, true, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := freeMembers(t, "127.0.59", tc.first, 3)
			r := startReplica(t, all[2], all, nil, func(c *Config) {
				c.Audit.Get().Peer.Client.Timeout = time.Minute // the shutdown's bounds must do it
			})
			if tc.hang {
				for _, m := range all[:2] {
					t.Cleanup(blackhole(t, peerAddress(m, defaultPeerPort)))
				}
			}
			mine := ownedBy(all, r.member, 591, 200)
			ids := testbed.TraceIDs(592, 300)
			var others []pcommon.TraceID
			for owner, theirs := range byOwner(all, ids) {
				if owner != r.member {
					others = append(others, theirs...)
				}
			}
			r.send(t, mine, 0)
			r.send(t, others, 0)

			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			require.NoError(t, r.proc.Shutdown(ctx))
			elapsed := time.Since(start)
			r.proc = nil
			t.Logf("shutdown took %s", elapsed)

			assert.Less(t, elapsed, shutdownTimeout, "returned before the cap")
			assert.Zero(t, r.sum(t, mSent, nil))
			assert.EqualValues(t, len(mine)+len(others), r.sum(t, mDropped, nil), "every handoff and report counted as dropped")
		})
	}
}
