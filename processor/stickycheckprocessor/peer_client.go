package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
)

// finalFlushTimeout bounds the last attempt to deliver queued reports at
// shutdown.
const finalFlushTimeout = 2 * time.Second

// peerClient sends reports to their owners. The span data path only appends
// to a bounded queue (never waiting on the network); a loop sends it every
// flush interval, one message at a time per peer, each peer on its own
// goroutine so that a slow peer delays nobody else. Reports to a peer that
// fails stay queued (bounded, expiring after a window) and are retried with
// backoff.
type peerClient struct {
	a        *audit
	http     *http.Client
	scheme   string
	port     int
	interval time.Duration
	capacity int
	logger   *zap.Logger

	mu    sync.Mutex
	queue []report
	spare []report
	peers map[string]*peerState

	kick     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	loopDone chan struct{}
	sends    sync.WaitGroup
}

type peerState struct {
	inflight bool
	failures int
	retryAt  time.Time
}

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

// enqueue adds reports to the queue, dropping (and counting) what does not
// fit. It never blocks on the network.
func (c *peerClient) enqueue(rs []report) {
	c.mu.Lock()
	n := min(c.capacity-len(c.queue), len(rs))
	c.queue = append(c.queue, rs[:n]...)
	full := len(c.queue) >= maxReportsPerMsg
	c.mu.Unlock()
	c.a.counters.dropped(context.Background(), dropQueueFull, len(rs)-n)
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// queued is the number of reports waiting.
func (c *peerClient) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// flush sends the queued reports to their owners under the current view.
// Reports this replica now owns are tallied here; reports to a peer that is
// busy or backing off wait for the next flush; final ignores backoff.
func (c *peerClient) flush(ctx context.Context, final bool) {
	c.mu.Lock()
	pending := c.queue
	c.queue, c.spare = c.spare[:0], nil
	c.mu.Unlock()
	if len(pending) == 0 {
		c.mu.Lock()
		c.spare = pending
		c.mu.Unlock()
		return
	}

	now := c.a.p.now()
	tick := c.a.table.tick(now)
	v := c.a.p.view.Load()
	var keep, local []report
	groups := map[int][]report{}
	expired := 0
	for _, r := range pending {
		switch owner := v.ring.Owner(r.id); {
		case tick-r.at >= c.a.table.window:
			expired++
		case owner < 0:
			keep = append(keep, r)
		case owner == v.self:
			local = append(local, r)
		default:
			groups[owner] = append(groups[owner], r)
		}
	}

	c.mu.Lock()
	members := v.ring.Members()
	for owner, rs := range groups {
		member := members[owner]
		st := c.peers[member]
		if st == nil {
			st = &peerState{}
			c.peers[member] = st
		}
		if st.inflight || (!final && now.Before(st.retryAt)) {
			keep = append(keep, rs...)
			continue
		}
		st.inflight = true
		c.sends.Add(1)
		go c.send(ctx, member, rs, v.ring.Hash())
	}
	for member, st := range c.peers {
		if !st.inflight && v.ring.IndexOf(member) < 0 {
			delete(c.peers, member)
		}
	}
	c.spare = pending[:0]
	c.mu.Unlock()

	c.a.counters.dropped(context.Background(), dropExpired, expired)
	if len(keep) > 0 {
		c.enqueue(keep)
	}
	if len(local) > 0 {
		c.a.apply(context.Background(), local)
	}
}

// send delivers reports to member, one message per maxReportsPerMsg; what
// could not be delivered is queued again.
func (c *peerClient) send(ctx context.Context, member string, reports []report, ringHash uint64) {
	defer c.sends.Done()
	url := c.scheme + "://" + peerAddress(member, c.port) + peerPath
	var buf []byte
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
			c.logger.Warn("peer refused stickycheck reports; they are dropped",
				zap.String("peer", member), zap.Int("status", status), zap.String("response", detail), zap.Int("reports", len(chunk)))
		default:
			if err == nil {
				err = fmt.Errorf("HTTP %d: %s", status, detail)
			}
			c.done(member, err)
			c.enqueue(reports)
			return
		}
		reports = reports[len(chunk):]
	}
	c.done(member, nil)
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

// done records the outcome of a send: a failure backs the peer off
// (interval, doubling, at most 5 intervals); the first failure and the
// recovery are logged.
func (c *peerClient) done(member string, err error) {
	c.mu.Lock()
	st := c.peers[member]
	if st == nil {
		st = &peerState{}
		c.peers[member] = st
	}
	st.inflight = false
	failures := st.failures
	if err == nil {
		st.failures, st.retryAt = 0, time.Time{}
	} else {
		st.failures++
		st.retryAt = c.a.p.now().Add(min(c.interval<<min(failures, 8), 5*c.interval))
	}
	c.mu.Unlock()
	switch {
	case err != nil && failures == 0:
		c.logger.Warn("stickycheck peer unreachable; its reports stay queued (audit::peer::queue_size) and are retried",
			zap.String("peer", member), zap.Error(err))
	case err == nil && failures > 0:
		c.logger.Info("stickycheck peer reachable again", zap.String("peer", member), zap.Int("failed_attempts", failures))
	}
}

// shutdown stops the loop, makes one last bounded attempt to deliver the
// queue and counts what is left as dropped.
func (c *peerClient) shutdown(ctx context.Context) {
	c.cancel() // aborts the loop's sends: their reports go back to the queue
	if c.loopDone != nil {
		<-c.loopDone
		c.loopDone = nil
	}
	c.sends.Wait()
	if c.a.table != nil {
		fctx, cancel := context.WithTimeout(ctx, finalFlushTimeout)
		c.flush(fctx, true)
		c.sends.Wait()
		cancel()
	}
	c.mu.Lock()
	left := len(c.queue)
	c.queue = nil
	c.mu.Unlock()
	c.a.counters.dropped(context.Background(), dropShutdown, left)
	c.http.CloseIdleConnections()
}
