package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// peerServer receives the peers' reports on confighttp's server, so that
// TLS, authentication and the body size limit are the collector's own.
type peerServer struct {
	serverEnv
	server  *http.Server
	addr    net.Addr
	done    sync.WaitGroup
	admit   *admission // peer_limits.go
	rejects *rejectLog
}

// serverEnv is what the server takes from the audit: its settings, and
// onReports, which applies the reports of an accepted message.
type serverEnv struct {
	cfg       confighttp.ServerConfig
	self      string
	port      int
	wrap      func(net.Listener) net.Listener // tests: wraps the listener
	metrics   *metrics
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	onReports func(context.Context, []wire.Report)
	limits    PeerLimits       // peer_limits.go
	now       func() time.Time // the rejection log's clock
	// onSpans processes forwarded spans; nil when forwarding is off (the
	// path is then not served).
	onSpans func(context.Context, ptrace.Traces) error
}

func startPeerServer(ctx context.Context, host component.Host, env serverEnv) (*peerServer, error) {
	cfg := env.cfg
	if cfg.NetAddr.Endpoint == "" {
		cfg.NetAddr.Endpoint = peerAddress(env.self, env.port)
	}
	s := &peerServer{serverEnv: env, admit: newAdmission(env.limits), rejects: newRejectLog(env.logger, env.now)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.ReportsPath, s.handleReports)
	if env.onSpans != nil {
		mux.HandleFunc("POST "+wire.SpansPath, s.handleSpans)
	}
	server, err := cfg.ToServer(ctx, host.GetExtensions(), env.telemetry, s.limit(mux), confighttp.WithErrorHandler(s.httpError))
	if err != nil {
		return nil, fmt.Errorf("audit::peer::server: %w", err)
	}
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit::peer::server: listening on %s: %w", cfg.NetAddr.Endpoint, err)
	}
	if env.wrap != nil {
		ln = env.wrap(ln)
	}
	s.server, s.addr = server, ln.Addr()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			env.logger.Error("stickycheck peer server stopped", zap.Error(err))
		}
	}()
	env.logger.Info("stickycheck peer server listening", zap.String("endpoint", s.addr.String()))
	warnIfOpen(env.logger, &cfg, s.addr.String())
	return s, nil
}

// shutdownGrace bounds the graceful part of the server's shutdown: requests
// are answered at once, so what is left then is idle connections (HTTP/2
// waits a second for its peers to hang up).
const shutdownGrace = 300 * time.Millisecond

func (s *peerServer) shutdown(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, shutdownGrace)
	defer cancel()
	err := s.server.Shutdown(gctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = s.server.Close()
	}
	s.done.Wait()
	return err
}

// handleReports decodes one message and applies its reports. Every
// rejection is answered with a 4xx naming the problem and counted.
func (s *peerServer) handleReports(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readMessage(w, r, wire.ReportsContentType, wire.MaxReportsMessageLen)
	if !ok {
		return
	}
	m, err := wire.DecodeReports(body)
	if err != nil {
		s.rejectMessage(w, err)
		return
	}
	s.metrics.reportsReceived(r.Context(), len(m.Reports))
	s.onReports(r.Context(), m.Reports)
	w.WriteHeader(http.StatusNoContent)
}

// handleSpans decodes one message of forwarded spans and processes them
// here. Rejections are answered with a 4xx and counted; a next consumer
// that refuses the spans gets a 503, and the sender processes them itself.
func (s *peerServer) handleSpans(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readMessage(w, r, wire.SpansContentType, wire.MaxSpansMessageLen)
	if !ok {
		return
	}
	m, err := wire.DecodeSpans(body)
	if err != nil {
		s.rejectMessage(w, err)
		return
	}
	if err := s.onSpans(r.Context(), m.Traces); err != nil {
		http.Error(w, "next consumer refused the spans: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readMessage reads the body of a message of contentType, at most maxLen
// bytes; a wrong content type, a body too large, cut off or too slow is
// rejected (answered and counted) and ok is false.
func (s *peerServer) readMessage(w http.ResponseWriter, r *http.Request, contentType string, maxLen int) (body []byte, ok bool) {
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		s.reject(w, rejectUnsupportedMediaType, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q, want %q", ct, contentType))
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxLen)+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.reject(w, wire.RejectOversized, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit))
		return nil, false
	case err != nil:
		reason, status := readError(err)
		s.reject(w, reason, status, "reading body: "+err.Error())
		return nil, false
	case len(body) > maxLen:
		s.reject(w, wire.RejectOversized, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxLen))
		return nil, false
	}
	return body, true
}

// rejectMessage answers a message the wire decoder refused, with its reason.
func (s *peerServer) rejectMessage(w http.ResponseWriter, err error) {
	reason := wire.Reason(err)
	status := http.StatusBadRequest
	if reason == wire.RejectOversized {
		status = http.StatusRequestEntityTooLarge
	}
	s.reject(w, reason, status, protocolDetail(err))
}

func (s *peerServer) reject(w http.ResponseWriter, reason string, status int, msg string) {
	s.metrics.rejected(context.Background(), reason)
	s.rejects.log(reason, status, msg)
	http.Error(w, reason+": "+msg, status)
}

// httpError answers what confighttp rejects before the handler runs: a
// failed authentication (401), an undecodable compressed body.
func (s *peerServer) httpError(w http.ResponseWriter, _ *http.Request, msg string, status int) {
	reason := wire.RejectMalformed
	switch status {
	case http.StatusUnauthorized:
		reason = wire.RejectUnauthenticated
	case http.StatusRequestEntityTooLarge:
		reason = wire.RejectOversized
	}
	s.reject(w, reason, status, msg)
}
