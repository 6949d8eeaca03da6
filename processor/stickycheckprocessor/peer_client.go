package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// peerClient sends reports to their owners. The span data path only appends
// to a bounded inbox (never waiting on the network). A loop, every flush
// interval, files the inbox's reports under their owner (under the current
// view of the ring: once per report and view) and sends each peer its
// reports, one peer per goroutine and one send in flight per peer, so that
// a slow peer delays nobody else. A peer that fails keeps its reports
// (bounded by queue_size, expiring after a window) and is retried with
// backoff.
//
// Lock rule: inMu guards the inbox only, and is the one lock the data path
// takes (enqueue: an append). mu guards the peers' lists and is taken by the
// loop and the sends, never by the data path; it may be held while taking
// inMu, never the other way round. Nothing is sent or logged under either.
// The reports queued (inbox and peers' lists) and in flight are counted in
// atomics, so that the bound holds without one lock over both.
type peerClient struct {
	clientEnv
	http     *http.Client
	scheme   string
	port     int
	interval time.Duration
	capacity int64

	inMu  sync.Mutex
	inbox []wire.Report // not yet filed under a peer
	spare []wire.Report

	mu    sync.Mutex
	peers map[string]*peerState
	gen   uint64 // the view the peers' reports were filed under

	total    atomic.Int64 // reports in the inbox and the peers' lists: at most capacity
	inflight atomic.Int64 // reports being sent

	kick     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
	sends    sync.WaitGroup
}

// clientEnv is what the client takes from the audit: who sends, the current
// view, the clock and the table's ticks, the metrics, and local, which
// tallies the reports this replica turns out to own.
type clientEnv struct {
	selfID    uint64
	views     *atomic.Pointer[view]
	now       func() time.Time
	tick      func(time.Time) uint32
	window    uint32
	metrics   *metrics
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	local     func(context.Context, []wire.Report)
}

type peerState struct {
	pending  []wire.Report // oldest first
	inflight bool
	abort    context.CancelFunc // ends the send in flight
	failures int
	retryAt  time.Time
	refusing bool // the last send was refused (logged once)
}

// errAborted is the outcome of a send ended by the client itself: the peer
// left the ring, or the client is shutting down. Not the peer's fault.
var errAborted = errors.New("send aborted")

func newPeerClient(ctx context.Context, host component.Host, pc *PeerConfig, env clientEnv) (*peerClient, error) {
	client, err := pc.Client.ToClient(ctx, host.GetExtensions(), env.telemetry)
	if err != nil {
		return nil, fmt.Errorf("audit::peer::client: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	return &peerClient{
		clientEnv: env, http: client, scheme: pc.peerScheme(), port: pc.Port,
		interval: pc.FlushInterval, capacity: int64(pc.QueueSize),
		peers: map[string]*peerState{}, kick: make(chan struct{}, 1),
		ctx: cctx, cancel: cancel,
	}, nil
}

func (c *peerClient) start() {
	c.loopDone = make(chan struct{})
	go c.loop()
}

func (c *peerClient) loop() {
	defer close(c.loopDone)
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ticker.C:
		case <-c.kick:
		}
		c.flush(c.ctx, false)
	}
}

// enqueue adds reports to the inbox, dropping (and counting) what does not
// fit. It never blocks on the network.
func (c *peerClient) enqueue(rs []wire.Report) {
	n := int(c.reserve(int64(len(rs))))
	c.inMu.Lock()
	c.inbox = append(c.inbox, rs[:n]...)
	full := len(c.inbox) >= wire.MaxReportsPerMsg
	c.inMu.Unlock()
	c.metrics.dropped(context.Background(), dropQueueFull, len(rs)-n)
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// flushSoon makes the loop flush now rather than at its next tick.
func (c *peerClient) flushSoon() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// reserve takes room for up to n reports in the queue; it returns how many
// fit.
func (c *peerClient) reserve(n int64) int64 {
	for {
		total := c.total.Load()
		k := min(c.capacity-total, n)
		if k <= 0 {
			return 0
		}
		if c.total.CompareAndSwap(total, total+k) {
			return k
		}
	}
}

// queued is the number of reports not delivered yet (waiting or in flight).
func (c *peerClient) queued() int {
	return int(c.total.Load() + c.inflight.Load())
}

// peer returns member's state; c.mu must be held.
func (c *peerClient) peer(member string) *peerState {
	st := c.peers[member]
	if st == nil {
		st = &peerState{}
		c.peers[member] = st
	}
	return st
}

// flush files the inbox under the owners of its reports and starts the
// sends. Reports this replica now owns are tallied here; final ignores the
// peers' backoff.
func (c *peerClient) flush(ctx context.Context, final bool) {
	now := c.now()
	tick := c.tick(now)
	window := c.window
	v := c.views.Load()

	c.mu.Lock()
	c.inMu.Lock()
	todo := c.inbox
	c.inbox, c.spare = c.spare[:0], nil
	c.inMu.Unlock()
	if v.gen != c.gen {
		// The ring changed: what waits for a peer goes to the new owners,
		// and so does what is being sent to a peer that left (its send is
		// ended: a departed replica may never answer).
		for member, st := range c.peers {
			todo = append(todo, st.pending...)
			st.pending = nil
			if v.ring.IndexOf(member) >= 0 {
				continue
			}
			if !st.inflight {
				delete(c.peers, member)
			} else if st.abort != nil {
				st.abort()
			}
		}
		c.gen = v.gen
	}

	// Filing the reports takes mu, which the data path never takes.
	var local []wire.Report
	var waiting []wire.Report
	expired := 0
	members := v.ring.Members()
	for i := range todo {
		switch owner := v.owner(todo[i].ID); {
		case tick-todo[i].At >= window:
			expired++
		case v.isSelf(owner):
			local = append(local, todo[i])
		case owner < 0:
			waiting = append(waiting, todo[i]) // the ring is empty: wait for members
		default:
			st := c.peer(members[owner])
			st.pending = append(st.pending, todo[i])
		}
	}
	if len(waiting) > 0 {
		c.inMu.Lock()
		c.inbox = append(c.inbox, waiting...)
		c.inMu.Unlock()
	}
	for member, st := range c.peers {
		old := 0
		for old < len(st.pending) && tick-st.pending[old].At >= window {
			old++
		}
		expired += old
		st.pending = st.pending[old:]
		if len(st.pending) == 0 || st.inflight || (!final && now.Before(st.retryAt)) {
			continue
		}
		batch := st.pending
		sctx, abort := context.WithCancel(ctx)
		st.pending, st.inflight, st.abort = nil, true, abort
		c.total.Add(-int64(len(batch)))
		c.inflight.Add(int64(len(batch)))
		c.sends.Add(1)
		go c.send(sctx, member, c.gen, batch, v.ring.Hash())
	}
	c.total.Add(-int64(expired + len(local)))
	c.spare = todo[:0]
	c.mu.Unlock()

	c.metrics.dropped(context.Background(), dropExpired, expired)
	if len(local) > 0 {
		c.local(context.Background(), local)
	}
}

// send delivers reports, filed under member in view gen, one message per
// maxReportsPerMsg; what could not be delivered is queued again.
func (c *peerClient) send(ctx context.Context, member string, gen uint64, reports []wire.Report, ringHash uint64) {
	defer c.sends.Done()
	url := c.scheme + "://" + peerAddress(member, c.port) + wire.ReportsPath
	var buf []byte
	var refused string
	for len(reports) > 0 {
		chunk := reports[:min(len(reports), wire.MaxReportsPerMsg)]
		buf = wire.AppendReports(buf[:0], c.selfID, ringHash, chunk)
		status, detail, err := c.post(ctx, url, buf)
		switch {
		case err == nil && status/100 == 2:
			c.metrics.reportsSent(context.Background(), len(chunk), len(buf))
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			// The peer refuses the message itself (auth, version, format):
			// sending it again would not help.
			c.metrics.dropped(context.Background(), dropRefused, len(chunk))
			refused = fmt.Sprintf("HTTP %d: %s", status, detail)
		default:
			if err == nil {
				err = fmt.Errorf("HTTP %d: %s", status, detail)
			}
			if ctx.Err() != nil {
				err = errAborted
			}
			c.done(member, gen, err, reports, refused)
			return
		}
		reports = reports[len(chunk):]
		c.inflight.Add(-int64(len(chunk)))
	}
	c.done(member, gen, nil, nil, refused)
}

func (c *peerClient) post(ctx context.Context, url string, body []byte) (status int, detail string, err error) {
	return postPeer(ctx, c.http, url, wire.ReportsContentType, body)
}

// postPeer sends one message to a peer's server and returns its status and
// the start of its answer (what a refusal says); the rest of the answer is
// drained, at most 64 KiB, so that the connection is reused.
func postPeer(ctx context.Context, client *http.Client, url, contentType string, body []byte) (status int, detail string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(bytes.TrimSpace(msg)), nil
}

// done records the outcome of a send filed in view gen. Undelivered reports
// go back to the head of the peer's list or, when the ring has changed
// since, to the inbox, to be filed under their owners in the new view (what
// does not fit is dropped). A failure (err) backs the peer off (interval,
// doubling, at most 5 intervals); an aborted send does not. The first
// failure, the first refusal (refused: the peer's answer) and the recovery
// are logged, not every attempt.
func (c *peerClient) done(member string, gen uint64, err error, undelivered []wire.Report, refused string) {
	aborted := errors.Is(err, errAborted)
	c.mu.Lock()
	st := c.peer(member)
	st.inflight = false
	if st.abort != nil {
		st.abort()
		st.abort = nil
	}
	wasRefusing := st.refusing
	st.refusing = refused != ""
	c.inflight.Add(-int64(len(undelivered)))
	keep := int(c.reserve(int64(len(undelivered))))
	switch {
	case keep == 0:
	case gen != c.gen:
		c.inMu.Lock()
		c.inbox = append(c.inbox, undelivered[:keep]...)
		c.inMu.Unlock()
	default:
		st.pending = append(undelivered[:keep:keep], st.pending...)
	}
	failures := st.failures
	switch {
	case aborted:
	case err == nil:
		st.failures, st.retryAt = 0, time.Time{}
	default:
		st.failures++
		st.retryAt = c.now().Add(min(c.interval<<min(failures, 8), 5*c.interval))
	}
	if gen != c.gen && len(st.pending) == 0 && c.views.Load().ring.IndexOf(member) < 0 {
		delete(c.peers, member) // it left the ring while its send was in flight
	}
	c.mu.Unlock()
	c.metrics.dropped(context.Background(), dropQueueFull, len(undelivered)-keep)
	switch {
	case aborted:
	case err != nil && failures == 0:
		c.logger.Warn("stickycheck peer unreachable; its reports stay queued (audit::peer::queue_size) and are retried",
			zap.String("peer", member), zap.Error(err))
	case err == nil && failures > 0:
		c.logger.Info("stickycheck peer reachable again", zap.String("peer", member), zap.Int("failed_attempts", failures))
	}
	if refused != "" && !wasRefusing {
		c.logger.Warn("stickycheck peer refuses our reports; they are dropped (peer_reports_dropped{reason=\"refused\"}): check audit::peer auth, tls and version on both sides",
			zap.String("peer", member), zap.String("response", refused))
	}
}

// stopLoop ends the loop; the sends it started are aborted and their
// reports go back to the queue. The queue is then delivered by the caller
// only (deliver, shutdown), and every peer is tried again at once.
func (c *peerClient) stopLoop() {
	c.cancel()
	if c.loopDone != nil {
		<-c.loopDone
		c.loopDone = nil
	}
	c.sends.Wait()
	c.mu.Lock()
	for _, st := range c.peers {
		st.retryAt = time.Time{}
	}
	c.mu.Unlock()
}

// deliver makes one attempt to send every queued report (final: even to the
// peers backing off) and waits for it, within ctx. The loop must be stopped.
func (c *peerClient) deliver(ctx context.Context, final bool) {
	c.flush(ctx, final)
	c.sends.Wait()
}

// room is how many reports the queue can take.
func (c *peerClient) room() int {
	return int(c.capacity - c.total.Load() - c.inflight.Load())
}

// enqueueDelivering queues reports however many: whenever the next chunk
// would not fit, it first delivers the queue (within ctx; a peer backing off
// after a failure is not tried again), and what still does not fit is
// dropped and counted, as by enqueue. The loop must be stopped.
func (c *peerClient) enqueueDelivering(ctx context.Context, rs []wire.Report) {
	for len(rs) > 0 {
		n := min(len(rs), int(c.capacity))
		if c.room() < n {
			c.deliver(ctx, false)
		}
		c.enqueue(rs[:n])
		rs = rs[n:]
	}
}

// shutdown stops the loop, makes one last attempt to deliver the queue,
// within ctx, and counts what is left as dropped; it returns how many.
func (c *peerClient) shutdown(ctx context.Context) int {
	c.stopLoop()
	c.deliver(ctx, true)
	c.mu.Lock()
	c.inMu.Lock()
	left := int(c.total.Swap(0))
	c.inbox, c.peers = nil, map[string]*peerState{}
	c.inMu.Unlock()
	c.mu.Unlock()
	c.metrics.dropped(context.Background(), dropShutdown, left)
	c.http.CloseIdleConnections()
	return left
}
