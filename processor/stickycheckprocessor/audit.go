package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// maxHops bounds how often a report is forwarded between replicas whose
// views of the ring disagree; at the limit the receiver tallies it.
const maxHops = 2

// audit counts split traces across the tier (see the README): the window
// table, the tally of the traces this replica owns, and the peer protocol.
type audit struct {
	p        *stickyCheck
	cfg      *AuditConfig
	counters *auditCounters
	selfID   uint64
	table    *tracker
	client   *peerClient
	server   *peerServer
	stop     chan struct{}
	wg       sync.WaitGroup
	// settledGen is the view whose waiting splits were settled (sweeper).
	settledGen uint64
	// wrapListener, when set, wraps the peer server's listener (tests
	// measure the bytes on the wire with it).
	wrapListener func(net.Listener) net.Listener
}

func newAudit(p *stickyCheck, cfg *AuditConfig) *audit {
	return &audit{p: p, cfg: cfg, counters: newAuditCounters(p.telemetry), stop: make(chan struct{})}
}

// start allocates the table and starts the peer server and client. It runs
// before the resolver publishes its first member list.
func (a *audit) start(ctx context.Context, host component.Host) error {
	a.selfID = replicaID(a.p.self)
	if err := checkTableMemory(a.p.logger, a.cfg.MaxTraces, containerMemoryLimit(cgroupMemoryFiles)); err != nil {
		return err
	}
	a.table = newTracker(a.cfg.MaxTraces, a.cfg.Window, a.p.now())
	client, err := newPeerClient(ctx, a, host)
	if err != nil {
		a.table = nil
		return err
	}
	server, err := startPeerServer(ctx, a, host)
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
func (a *audit) shutdown(ctx context.Context) error {
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
	handed := a.leave(ctx)
	undelivered := a.client.shutdown(ctx)
	a.p.logger.Info("stickycheck left the ring: its traces handed to their next owners",
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
	ticker := time.NewTicker(min(expireEvery, max(a.p.cfg.Grace/8, 100*time.Millisecond)))
	defer ticker.Stop()
	var lastExpire time.Time
	for {
		select {
		case <-a.stop:
			return
		case <-ticker.C:
			now := a.p.now()
			a.settlePending(now)
			if d := now.Sub(lastExpire); d >= 0 && d < expireEvery {
				continue
			}
			lastExpire = now
			_, live := a.table.expire(a.table.tick(now))
			a.p.telemetry.ProcessorStickycheckTracesTracked.Record(context.Background(), int64(live))
		}
	}
}

// awaiting tells whether a split of trace id, which this replica owns under
// v, must wait for the previous owner's handoff: within grace of a change
// that moved the trace here.
func (a *audit) awaiting(v *view, id *[16]byte, now time.Time) bool {
	if v.first || v.prev == nil || now.Sub(v.changedAt) >= a.p.cfg.Grace {
		return false
	}
	owner := v.prev.ring.Owner(*id)
	return owner >= 0 && owner != v.prev.self
}

// ownedBefore tells whether this replica owned trace id under the view
// before v.
func (a *audit) ownedBefore(v *view, id *[16]byte) bool {
	return !v.first && v.prev != nil && v.prev.self >= 0 && v.prev.ring.Owner(*id) == v.prev.self
}

// settlePending counts, once grace has passed after a change, the splits
// still waiting for a handoff that did not come (the previous owner had no
// tally of the trace).
func (a *audit) settlePending(now time.Time) {
	v := a.p.view.Load()
	if v.first || v.gen == a.settledGen || now.Sub(v.changedAt) < a.p.cfg.Grace {
		return
	}
	a.settledGen = v.gen
	var split [numCauses]int
	for i := range a.table.shards {
		sh := &a.table.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			if e := &sh.slots[j]; e.id != zeroID && settle(e) {
				split[e.cause()]++
			}
		}
		sh.mu.Unlock()
	}
	a.counters.split(context.Background(), &split)
}

// viewAt returns the view a shard of generation gen agrees with: the
// current one, or the one before while a ring change is being applied.
func (a *audit) viewAt(gen uint64) *view {
	v := a.p.view.Load()
	if v.gen != gen && v.prev != nil && v.prev.gen == gen {
		return v.prev
	}
	return v
}

// batchTraces is how many traces of a batch are recorded at once.
const batchTraces = 256

// pendingTrace is a trace of the batch waiting to be recorded.
type pendingTrace struct {
	id    [16]byte
	hash  uint64
	owner int32
	shard uint32
}

// auditBatch gathers what one batch of spans adds: the table is updated a
// shard at a time, the queue and the counters once a batch.
type auditBatch struct {
	v           *view
	withinGrace bool
	now         time.Time
	tick        uint32
	np          int
	pending     [batchTraces]pendingTrace
	nr          int
	reports     [64]report
	split       [numCauses]int
	evicted     int
	warm        uint32 // sink of the loads that warm the cache
}

// batches are reused: an auditBatch is 10 KiB, too much to clear for
// every batch of spans.
var batches = sync.Pool{New: func() any { return new(auditBatch) }}

// begin returns the batch of a call of processTraces; finish ends it.
func (a *audit) begin(v *view, now time.Time, withinGrace bool) *auditBatch {
	b := batches.Get().(*auditBatch)
	b.v, b.now, b.tick, b.withinGrace = v, now, a.table.tick(now), withinGrace
	return b
}

// observe notes that this replica received spans of trace id, whose owner
// under the batch's view is owner; it runs once per trace per batch, on the
// span data path.
func (a *audit) observe(b *auditBatch, id *[16]byte, owner int) {
	if *id == zeroID {
		return
	}
	h := traceHash(id)
	b.pending[b.np] = pendingTrace{id: *id, hash: h, owner: int32(owner), shard: uint32(a.table.shardIndex(h))}
	if b.np++; b.np == batchTraces {
		a.record(b)
	}
}

// record writes the pending traces to the table, shard by shard. Under a
// shard's lock it first reads each trace's home slot, loads that do not
// depend on each other, so the CPU fetches the table's cache lines in
// parallel rather than one miss after another; then it updates them.
func (a *audit) record(b *auditBatch) {
	n := len(a.table.shards)
	var start [maxShards + 1]uint16
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
		sh := &a.table.shards[s]
		sh.mu.Lock()
		for _, i := range group {
			b.warm += sh.slots[sh.home(b.pending[i].hash)].seen
		}
		for _, i := range group {
			a.recordOne(b, sh, &b.pending[i])
		}
		sh.mu.Unlock()
	}
	b.np = 0
}

// recordOne records one trace; the shard's lock is held.
func (a *audit) recordOne(b *auditBatch, sh *shard, p *pendingTrace) {
	v, owner, withinGrace := b.v, int(p.owner), b.withinGrace
	if sh.gen != v.gen {
		v = a.viewAt(sh.gen)
		owner = v.ring.Owner(p.id)
		withinGrace = a.p.withinGrace(v, b.now)
	}
	e, evicted := sh.upsert(&p.id, p.hash, b.tick, a.table.window)
	b.evicted += evicted
	e.seen = b.tick
	e.flags |= efLocal
	switch {
	case owner < 0:
		// No ring yet: the first member list reports it.
	case owner == v.self:
		if addSeer(e, a.selfID) && countsNow(e, a.awaiting(v, &p.id, b.now)) {
			b.split[e.cause()]++
		}
	case e.flags&efReported == 0:
		e.flags |= efReported
		r := report{id: p.id, seer: a.selfID, at: b.tick}
		if withinGrace {
			r.flags = rfRingChange
		}
		if a.ownedBefore(v, &p.id) {
			// This replica owned the trace before the change and kept no
			// tally of it (it would have been handed over, and the trace
			// marked reported): this report is the whole handoff.
			r.flags |= rfRingChange | rfHandoff
		}
		b.reports[b.nr] = r
		if b.nr++; b.nr == len(b.reports) {
			a.client.enqueue(b.reports[:b.nr])
			b.nr = 0
		}
	}
}

// finish queues the batch's reports and records its counts.
func (a *audit) finish(ctx context.Context, b *auditBatch) {
	if b.np > 0 {
		a.record(b)
	}
	if b.nr > 0 {
		a.client.enqueue(b.reports[:b.nr])
	}
	a.counters.split(ctx, &b.split)
	a.counters.evicted(ctx, b.evicted)
	b.v, b.nr, b.split, b.evicted = nil, 0, [numCauses]int{}, 0
	batches.Put(b)
}

// apply tallies reports for the traces this replica owns and forwards the
// others to their owner under this replica's view.
func (a *audit) apply(ctx context.Context, reports []report) {
	now := a.p.now()
	tick := a.table.tick(now)
	var split [numCauses]int
	var evicted int
	var forward []report
	for i := range reports {
		r := &reports[i]
		sh, h := a.table.shardOf(&r.id)
		sh.mu.Lock()
		v := a.viewAt(sh.gen)
		if owner := v.ring.Owner(r.id); owner >= 0 && owner != v.self && r.hops() < maxHops {
			sh.mu.Unlock()
			fwd := *r
			fwd.flags += 1 << hopsShift
			fwd.at = tick
			forward = append(forward, fwd)
			continue
		}
		e, ev := sh.upsert(&r.id, h, tick, a.table.window)
		evicted += ev
		e.seen = tick
		if s, settled := merge(e, r); settled || (s && countsNow(e, a.awaiting(v, &r.id, now))) {
			split[e.cause()]++
		}
		sh.mu.Unlock()
	}
	if len(forward) > 0 {
		a.client.enqueue(forward)
	}
	a.counters.split(ctx, &split)
	a.counters.evicted(ctx, evicted)
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
}

// moveTraces does the work of ringChanged; send queues the reports of each
// shard, outside its lock.
func (a *audit) moveTraces(old, next *view, send func([]report)) {
	ctx := context.Background()
	var split [numCauses]int
	out := make([]report, 0, 256)
	now := a.p.now()
	tick := a.table.tick(now)
	hasOwners := len(next.ring.Members()) > 0
	for i := range a.table.shards {
		sh := &a.table.shards[i]
		sh.mu.Lock()
		for j := range sh.slots {
			e := &sh.slots[j]
			if e.id == zeroID {
				continue
			}
			was := old.self >= 0 && old.ring.Owner(e.id) == old.self
			is := next.self >= 0 && next.ring.Owner(e.id) == next.self
			switch {
			case was && !is:
				if !hasOwners {
					continue
				}
				c := e.cause()
				if r, ok, countNow := handoff(e); ok {
					if countNow {
						split[c]++
					}
					r.at = tick
					out = append(out, r)
				}
			case is && e.flags&efLocal != 0:
				if addSeer(e, a.selfID) && countsNow(e, a.awaiting(next, &e.id, now)) {
					split[e.cause()]++
				}
			case !is && hasOwners && e.flags&(efLocal|efReported) == efLocal:
				e.flags |= efReported
				out = append(out, report{id: e.id, seer: a.selfID, flags: rfRingChange, at: tick})
			}
		}
		sh.gen = next.gen
		sh.mu.Unlock()
		if len(out) > 0 {
			send(out)
			out = out[:0]
		}
	}
	a.counters.split(ctx, &split)
}
