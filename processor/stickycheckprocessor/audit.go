package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/tally"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// maxHops bounds how often a report is forwarded between replicas whose
// views of the ring disagree; at the limit the receiver tallies it.
const maxHops = 2

// auditEnv is what the audit takes from the processor, explicitly: who this
// replica is, its current view of the ring (read only: the processor
// publishes the views), its clock and its one metrics path.
type auditEnv struct {
	self      string
	views     *atomic.Pointer[view]
	now       func() time.Time
	grace     time.Duration
	metrics   *metrics
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	// forward: the batches' traces held or owned by another replica are
	// routed to it (forward::enabled); hold is forward::hold.
	forward bool
	hold    time.Duration
	// onSpans processes spans forwarded by a peer (nil: the peer server
	// does not take them).
	onSpans func(context.Context, ptrace.Traces) error
}

// audit counts split traces across the tier (see the README): the window
// table, the tally of the traces this replica owns, and the peer protocol.
//
// Lock rule: the table's shard locks are the only locks the audit takes on
// the data path, one at a time, and nothing is queued, sent or logged while
// one is held: reports are gathered in the batch (or a local slice) and
// queued once the shard is unlocked. The peer client's locks are its own
// (see peerClient).
type audit struct {
	cfg *AuditConfig
	auditEnv
	selfID uint64
	table  *table.Table
	client *peerClient
	server *peerServer
	stop   chan struct{}
	wg     sync.WaitGroup
	// settledGen is the view whose waiting splits were settled (sweeper).
	settledGen uint64
	// wrapListener, when set, wraps the peer server's listener (tests
	// measure the bytes on the wire with it).
	wrapListener func(net.Listener) net.Listener
}

func newAudit(cfg *AuditConfig) *audit {
	return &audit{cfg: cfg, stop: make(chan struct{})}
}

// start allocates the table and starts the peer server and client. It runs
// before the resolver publishes its first member list.
func (a *audit) start(ctx context.Context, host component.Host, env auditEnv) error {
	a.auditEnv = env
	a.selfID = wire.ReplicaID(env.self)
	if err := checkTableMemory(env.logger, a.cfg.MaxTraces, containerMemoryLimit(cgroupMemoryFiles)); err != nil {
		return err
	}
	a.table = table.New(a.cfg.MaxTraces, a.cfg.Window, env.now())
	client, err := newPeerClient(ctx, host, &a.cfg.Peer, clientEnv{
		selfID: a.selfID, views: env.views, now: env.now, tick: a.table.Tick, window: a.table.Window,
		metrics: env.metrics, logger: env.logger, telemetry: env.telemetry, local: a.apply,
	})
	if err != nil {
		a.table = nil
		return err
	}
	server, err := startPeerServer(ctx, host, serverEnv{
		cfg: a.cfg.Peer.Server, self: env.self, port: a.cfg.Peer.Port, wrap: a.wrapListener,
		metrics: env.metrics, logger: env.logger, telemetry: env.telemetry, onReports: a.apply, onSpans: env.onSpans,
		limits: a.cfg.Peer.Limits, now: env.now,
	})
	if err != nil {
		client.shutdown(ctx)
		a.table = nil
		return err
	}
	a.client, a.server = client, server
	a.client.start()
	a.wg.Add(1)
	go a.sweep()
	return nil
}

// shutdown stops the peer server first: what the peers send from then on
// stays queued at them, and goes to the new owners once they see this
// replica gone. Then the replica leaves (leave), and the queue is delivered,
// the two within shutdownTimeout.
// leave, the processor's, installs the view without this replica.
func (a *audit) shutdown(ctx context.Context, leave func() (old, next *view)) error {
	if a.server == nil {
		return nil // not started
	}
	close(a.stop)
	a.wg.Wait()
	err := a.server.shutdown(ctx)
	ctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	a.client.stopLoop()
	start := time.Now()
	handed := a.leave(ctx, leave)
	undelivered := a.client.shutdown(ctx)
	a.logger.Info("stickycheck left the ring: its traces handed to their next owners",
		zap.Int("reports", handed), zap.Int("undelivered", undelivered), zap.Duration("took", time.Since(start)))
	return err
}

// sweep forgets the traces not seen for a window and records how many are
// remembered, an eighth of the window apart (each pass reads the whole
// table: a few ms for a million traces); and soon after grace has passed
// since a change, it settles the splits whose handoff did not come.
func (a *audit) sweep() {
	defer a.wg.Done()
	expireEvery := min(max(a.cfg.Window/8, 10*time.Millisecond), 5*time.Second)
	ticker := time.NewTicker(min(expireEvery, max(a.grace/8, 100*time.Millisecond)))
	defer ticker.Stop()
	var lastExpire time.Time
	for {
		select {
		case <-a.stop:
			return
		case <-ticker.C:
			now := a.now()
			a.settlePending(now)
			if d := now.Sub(lastExpire); d >= 0 && d < expireEvery {
				continue
			}
			lastExpire = now
			_, live := a.table.Expire(a.table.Tick(now))
			a.metrics.tracked(context.Background(), live)
		}
	}
}

// settlePending counts, once grace has passed after a change, the splits
// still waiting for a handoff that did not come (the previous owner had no
// tally of the trace).
func (a *audit) settlePending(now time.Time) {
	v := a.views.Load()
	if v.first || v.gen == a.settledGen || v.inGrace(now) {
		return
	}
	a.settledGen = v.gen
	var split [tally.NumCauses]int
	for i := range a.table.Shards {
		sh := &a.table.Shards[i]
		sh.Mu.Lock()
		for j := range sh.Slots {
			if e := &sh.Slots[j]; e.ID != table.ZeroID && tally.Settle(e) {
				split[tally.CauseOf(e)]++
			}
		}
		sh.Mu.Unlock()
	}
	a.metrics.split(context.Background(), &split)
}

// viewAt returns the view a shard of generation gen agrees with: the
// current one, or the one before while a ring change is being applied.
func (a *audit) viewAt(gen uint64) *view {
	v := a.views.Load()
	if v.gen != gen && v.prev != nil && v.prev.gen == gen {
		return v.prev
	}
	return v
}

// begin prepares the batch of a call of processTraces for the audit;
// finish ends it.
func (a *audit) begin(b *batch) {
	b.tick = a.table.Tick(b.now)
}

// observe notes that this replica received spans of trace id (hash h),
// whose owner under the batch's view is owner; it runs once per trace per
// batch, on the span data path.
func (a *audit) observe(b *batch, id *[16]byte, h uint64, owner int) {
	if *id == table.ZeroID {
		return
	}
	b.pending[b.np] = pendingTrace{id: *id, hash: h, owner: int32(owner), shard: uint32(a.table.ShardIndex(h))}
	if b.np++; b.np == batchTraces {
		a.record(b)
	}
}

// record writes the pending traces to the table, shard by shard, then
// queues the reports they gave, no shard locked. Under a shard's lock it
// first reads each trace's home slot, loads that do not depend on each
// other, so the CPU fetches the table's cache lines in parallel rather
// than one miss after another; then it updates them.
func (a *audit) record(b *batch) {
	n := len(a.table.Shards)
	var start [table.MaxShards + 1]uint16
	for i := range b.np {
		start[b.pending[i].shard+1]++
	}
	for s := 1; s <= n; s++ {
		start[s] += start[s-1]
	}
	next := start
	var order [batchTraces]uint8
	for i := range b.np {
		s := b.pending[i].shard
		order[next[s]] = uint8(i)
		next[s]++
	}
	for s := range n {
		group := order[start[s]:start[s+1]]
		if len(group) == 0 {
			continue
		}
		sh := &a.table.Shards[s]
		sh.Mu.Lock()
		for _, i := range group {
			b.warm += sh.Slots[sh.Home(b.pending[i].hash)].Seen
		}
		for _, i := range group {
			a.recordOne(b, sh, &b.pending[i])
		}
		sh.Mu.Unlock()
	}
	b.np = 0
	if b.nr > 0 {
		a.client.enqueue(b.reports[:b.nr])
		b.nr = 0
	}
}

// recordOne records one trace; the shard's lock is held, so it only adds
// to the batch.
func (a *audit) recordOne(b *batch, sh *table.Shard, p *pendingTrace) {
	v, owner, withinGrace := b.v, int(p.owner), b.withinGrace
	if sh.Gen != v.gen {
		v = a.viewAt(sh.Gen)
		owner = v.owner(p.id)
		withinGrace = v.inGrace(b.now)
	}
	if a.forward && !b.forwardedIn && a.route(b, sh, p, v, owner) {
		return
	}
	e, evicted := sh.Upsert(&p.id, p.hash, b.tick, a.table.Window)
	b.evicted += evicted
	e.Seen = b.tick
	e.Flags |= tally.Local
	switch {
	case owner < 0:
		// No ring yet: the first member list reports it.
	case v.isSelf(owner):
		if tally.AddSeer(e, a.selfID) && tally.CountsNow(e, v.movedHere(p.id, b.now)) {
			b.split[tally.CauseOf(e)]++
		}
	case e.Flags&tally.Reported == 0:
		e.Flags |= tally.Reported
		r := wire.Report{ID: p.id, Seer: a.selfID, At: b.tick}
		if withinGrace {
			r.Flags = wire.RingChange
		}
		if v.ownedBefore(p.id) {
			// This replica owned the trace before the change and kept no
			// tally of it (it would have been handed over, and the trace
			// marked reported): this report is the whole handoff.
			r.Flags |= wire.RingChange | wire.Handoff
		}
		b.reports[b.nr] = r
		b.nr++
	}
}

// route decides whether the batch's spans of trace p go to another
// replica, and notes it in the batch (true) — the rule: the replica that
// first got a trace keeps deciding it.
//   - a trace this replica holds (it processed spans of it) stays here;
//   - a trace another member owns goes to its owner (misrouted: agents or
//     apps whose ring differs);
//   - a trace this replica owns that another replica holds (the previous
//     owner's handoff named it) goes to that replica (holder), also when it
//     has just left the ring (within grace: it may be draining);
//   - within hold of a ring change, the spans of a trace nobody told this
//     replica about, whose owner under the previous ring is another member
//     (in the ring or just gone), are held (holdBuffer): that member's
//     handoff may not have arrived. A replica's first list counts as a
//     change from the ring without it (it may be joining a running tier).
//
// The shard's lock is held: it only adds to the batch and the table.
func (a *audit) route(b *batch, sh *table.Shard, p *pendingTrace, v *view, owner int) bool {
	if owner < 0 || v != b.v {
		return false // no ring, or a ring change being applied: process here
	}
	if v.self < 0 {
		// Not in its own ring, yet spans come: the agents list this replica
		// before its own resolver does (it has just become ready). Hold
		// them once, for hold: by then it sees itself, and they are routed
		// as a joining replica's (released spans are not held again, so a
		// self that is never a member costs one hold, not a loop).
		return !b.released && hold(b, p)
	}
	e := sh.Find(&p.id, p.hash)
	if e != nil && e.Flags&tally.Local != 0 {
		return false
	}
	if !v.isSelf(owner) {
		return fwdTo(b, p, v.ring.Members()[owner], fwdMisrouted)
	}
	if e != nil && e.Seer != 0 && e.Seer != a.selfID {
		if holder, ok := v.holderName(e.Seer, b.now); ok {
			return fwdTo(b, p, holder, fwdHolder)
		}
		return false
	}
	if e != nil || v.prev == nil || b.now.Sub(v.changedAt) >= a.hold {
		return false
	}
	if po := v.prevOwner(p.id); po < 0 || po == v.prev.self {
		return false
	}
	// Its owner before the change is another member, still in the ring or
	// just gone (it may be draining): hold until that member's handoff can
	// have come; then the spans are routed again (released).
	return hold(b, p)
}

// fwdTo notes in the batch that trace p's spans go to dest, for reason.
func fwdTo(b *batch, p *pendingTrace, dest string, reason fwdReason) bool {
	b.fwd = append(b.fwd, fwdTrace{id: p.id, dest: dest, reason: reason})
	return true
}

// hold notes in the batch that trace p's spans are held (dest holdHere).
func hold(b *batch, p *pendingTrace) bool { return fwdTo(b, p, holdHere, 0) }

// finish records what is pending and counts the batch's splits and
// evictions.
func (a *audit) finish(ctx context.Context, b *batch) {
	if b.np > 0 {
		a.record(b)
	}
	a.metrics.split(ctx, &b.split)
	a.metrics.evicted(ctx, b.evicted)
}

// apply tallies reports for the traces this replica owns and forwards the
// others to their owner under this replica's view.
func (a *audit) apply(ctx context.Context, reports []wire.Report) {
	now := a.now()
	tick := a.table.Tick(now)
	var split [tally.NumCauses]int
	var evicted int
	var forward []wire.Report
	for i := range reports {
		r := &reports[i]
		sh, h := a.table.ShardOf(&r.ID)
		sh.Mu.Lock()
		v := a.viewAt(sh.Gen)
		if owner := v.owner(r.ID); owner >= 0 && owner != v.self && r.HopCount() < maxHops {
			sh.Mu.Unlock()
			fwd := *r
			fwd.Flags += 1 << wire.HopsShift
			fwd.At = tick
			forward = append(forward, fwd)
			continue
		}
		e, ev := sh.Upsert(&r.ID, h, tick, a.table.Window)
		evicted += ev
		e.Seen = tick
		if s, settled := tally.Merge(e, r); settled || (s && tally.CountsNow(e, v.movedHere(r.ID, now))) {
			split[tally.CauseOf(e)]++
		}
		sh.Mu.Unlock()
	}
	if len(forward) > 0 {
		a.client.enqueue(forward)
	}
	a.metrics.split(ctx, &split)
	a.metrics.evicted(ctx, evicted)
}

// ringChanged moves every remembered trace from the view old to the view
// next, shard by shard (the data path meanwhile uses, for each shard, the
// view it agrees with):
//   - a trace this replica owned and no longer owns: its tally is handed to
//     the new owner;
//   - a trace it holds spans of and now owns: it joins the tally itself;
//   - a trace it holds spans of, owns under neither and has not reported:
//     it is reported to the new owner.
func (a *audit) ringChanged(old, next *view) {
	if a.table == nil {
		return
	}
	a.moveTraces(old, next, a.client.enqueue)
	// The handoffs go now, not at the next flush: until they arrive, the
	// new owners hold the spans of the traces they do not know.
	a.client.flushSoon()
}

// moveTraces does the work of ringChanged; send queues the reports of each
// shard, outside its lock.
func (a *audit) moveTraces(old, next *view, send func([]wire.Report)) {
	ctx := context.Background()
	var split [tally.NumCauses]int
	out := make([]wire.Report, 0, 256)
	now := a.now()
	tick := a.table.Tick(now)
	hasOwners := len(next.ring.Members()) > 0
	for i := range a.table.Shards {
		sh := &a.table.Shards[i]
		sh.Mu.Lock()
		for j := range sh.Slots {
			e := &sh.Slots[j]
			if e.ID == table.ZeroID {
				continue
			}
			was, is := old.owns(e.ID), next.owns(e.ID)
			switch {
			case was && !is:
				if !hasOwners {
					continue
				}
				c := tally.CauseOf(e)
				if r, ok, countNow := tally.Handoff(e); ok {
					if countNow {
						split[c]++
					}
					r.At = tick
					out = append(out, r)
				}
			case is && e.Flags&tally.Local != 0:
				if tally.AddSeer(e, a.selfID) && tally.CountsNow(e, next.movedHere(e.ID, now)) {
					split[tally.CauseOf(e)]++
				}
			case !is && hasOwners && e.Flags&(tally.Local|tally.Reported) == tally.Local:
				e.Flags |= tally.Reported
				out = append(out, wire.Report{ID: e.ID, Seer: a.selfID, Flags: wire.RingChange, At: tick})
			}
		}
		sh.Gen = next.gen
		sh.Mu.Unlock()
		if len(out) > 0 {
			send(out)
			out = out[:0]
		}
	}
	a.metrics.split(ctx, &split)
}
