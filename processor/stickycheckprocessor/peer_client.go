package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// peerClient sends reports to their owners. The span data path only appends
// to a bounded inbox (never waiting on the network). A loop, every flush
// interval, files the inbox's reports under their owner (under the current
// view of the ring: once per report and view) and sends each peer its
// reports, one peer per goroutine and one send in flight per peer, so that
// a slow peer delays nobody else. A peer that fails keeps its reports
// (bounded by queue_size, expiring after a window) and is retried with
// backoff.
type peerClient struct {
	a        *audit
	http     *http.Client
	scheme   string
	port     int
	interval time.Duration
	capacity int
	logger   *zap.Logger

	mu       sync.Mutex
	inbox    []report // not yet filed under a peer
	spare    []report
	peers    map[string]*peerState
	gen      uint64 // the view the peers' reports were filed under
	total    int    // reports in the inbox and the peers' lists: at most capacity
	inflight int    // reports being sent

	kick     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
	sends    sync.WaitGroup
}

type peerState struct {
	pending  []report // oldest first
	inflight bool
	abort    context.CancelFunc // ends the send in flight
	failures int
	retryAt  time.Time
	refusing bool // the last send was refused (logged once)
}

// errAborted is the outcome of a send ended by the client itself: the peer
// left the ring, or the client is shutting down. Not the peer's fault.
var errAborted = errors.New("send aborted")

func newPeerClient(ctx context.Context, a *audit, host component.Host) (*peerClient, error) {
	pc := &a.cfg.Peer
	client, err := pc.Client.ToClient(ctx, host.GetExtensions(), a.p.set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("audit::peer::client: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	return &peerClient{
		a: a, http: client, scheme: pc.peerScheme(), port: pc.Port,
		interval: pc.FlushInterval, capacity: pc.QueueSize, logger: a.p.logger,
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
func (c *peerClient) enqueue(rs []report) {
	c.mu.Lock()
	n := min(c.capacity-c.total, len(rs))
	c.inbox = append(c.inbox, rs[:n]...)
	c.total += n
	full := len(c.inbox) >= maxReportsPerMsg
	c.mu.Unlock()
	c.a.counters.dropped(context.Background(), dropQueueFull, len(rs)-n)
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// queued is the number of reports not delivered yet (waiting or in flight).
func (c *peerClient) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total + c.inflight
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

// Owners of reports being filed, besides member indexes.
const (
	ownerNone    = -1 // the ring is empty: wait for members
	ownerExpired = -2
	ownerSelf    = -3
)

// flush files the inbox under the owners of its reports and starts the
// sends. Reports this replica now owns are tallied here; final ignores the
// peers' backoff.
func (c *peerClient) flush(ctx context.Context, final bool) {
	now := c.a.p.now()
	tick := c.a.table.tick(now)
	window := c.a.table.window
	v := c.a.p.view.Load()

	c.mu.Lock()
	todo := c.inbox
	c.inbox, c.spare = c.spare[:0], nil
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
	c.total -= len(todo)
	c.mu.Unlock()

	// The ring is asked outside the lock: the data path may be enqueueing.
	owners := make([]int32, len(todo))
	for i := range todo {
		switch owner := v.ring.Owner(todo[i].id); {
		case tick-todo[i].at >= window:
			owners[i] = ownerExpired
		case owner >= 0 && owner == v.self:
			owners[i] = ownerSelf
		default:
			owners[i] = int32(owner)
		}
	}

	var local []report
	expired := 0
	members := v.ring.Members()
	c.mu.Lock()
	for i := range todo {
		switch owner := owners[i]; owner {
		case ownerExpired:
			expired++
		case ownerSelf:
			local = append(local, todo[i])
		case ownerNone:
			c.inbox = append(c.inbox, todo[i])
			c.total++
		default:
			st := c.peer(members[owner])
			st.pending = append(st.pending, todo[i])
			c.total++
		}
	}
	for member, st := range c.peers {
		old := 0
		for old < len(st.pending) && tick-st.pending[old].at >= window {
			old++
		}
		expired += old
		c.total -= old
		st.pending = st.pending[old:]
		if len(st.pending) == 0 || st.inflight || (!final && now.Before(st.retryAt)) {
			continue
		}
		batch := st.pending
		sctx, abort := context.WithCancel(ctx)
		st.pending, st.inflight, st.abort = nil, true, abort
		c.total -= len(batch)
		c.inflight += len(batch)
		c.sends.Add(1)
		go c.send(sctx, member, c.gen, batch, v.ring.Hash())
	}
	c.spare = todo[:0]
	c.mu.Unlock()

	c.a.counters.dropped(context.Background(), dropExpired, expired)
	if len(local) > 0 {
		c.a.apply(context.Background(), local)
	}
}

// send delivers reports, filed under member in view gen, one message per
// maxReportsPerMsg; what could not be delivered is queued again.
func (c *peerClient) send(ctx context.Context, member string, gen uint64, reports []report, ringHash uint64) {
	defer c.sends.Done()
	url := c.scheme + "://" + peerAddress(member, c.port) + peerPath
	var buf []byte
	var refused string
	for len(reports) > 0 {
		chunk := reports[:min(len(reports), maxReportsPerMsg)]
		buf = appendMessage(buf[:0], c.a.selfID, ringHash, chunk)
		status, detail, err := c.post(ctx, url, buf)
		switch {
		case err == nil && status/100 == 2:
			c.a.p.telemetry.ProcessorStickycheckPeerReportsSent.Add(context.Background(), int64(len(chunk)))
			c.a.p.telemetry.ProcessorStickycheckPeerBytesSent.Add(context.Background(), int64(len(buf)))
		case err == nil && status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			// The peer refuses the message itself (auth, version, format):
			// sending it again would not help.
			c.a.counters.dropped(context.Background(), dropRefused, len(chunk))
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
		c.mu.Lock()
		c.inflight -= len(chunk)
		c.mu.Unlock()
	}
	c.done(member, gen, nil, nil, refused)
}

func (c *peerClient) post(ctx context.Context, url string, body []byte) (status int, detail string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", peerContentType)
	resp, err := c.http.Do(req)
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
func (c *peerClient) done(member string, gen uint64, err error, undelivered []report, refused string) {
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
	c.inflight -= len(undelivered)
	keep := min(len(undelivered), c.capacity-c.total)
	switch {
	case keep == 0:
	case gen != c.gen:
		c.inbox = append(c.inbox, undelivered[:keep]...)
	default:
		st.pending = append(undelivered[:keep:keep], st.pending...)
	}
	c.total += keep
	failures := st.failures
	switch {
	case aborted:
	case err == nil:
		st.failures, st.retryAt = 0, time.Time{}
	default:
		st.failures++
		st.retryAt = c.a.p.now().Add(min(c.interval<<min(failures, 8), 5*c.interval))
	}
	if gen != c.gen && len(st.pending) == 0 && c.a.p.view.Load().ring.IndexOf(member) < 0 {
		delete(c.peers, member) // it left the ring while its send was in flight
	}
	c.mu.Unlock()
	c.a.counters.dropped(context.Background(), dropQueueFull, len(undelivered)-keep)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capacity - c.total - c.inflight
}

// enqueueDelivering queues reports however many: whenever the next chunk
// would not fit, it first delivers the queue (within ctx; a peer backing off
// after a failure is not tried again), and what still does not fit is
// dropped and counted, as by enqueue. The loop must be stopped.
func (c *peerClient) enqueueDelivering(ctx context.Context, rs []report) {
	for len(rs) > 0 {
		n := min(len(rs), c.capacity)
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
	if c.a.table != nil {
		c.deliver(ctx, true)
	}
	c.mu.Lock()
	left := c.total
	c.inbox, c.peers, c.total = nil, map[string]*peerState{}, 0
	c.mu.Unlock()
	c.a.counters.dropped(context.Background(), dropShutdown, left)
	c.http.CloseIdleConnections()
	return left
}
