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
	"go.uber.org/zap"
)

// peerServer receives the peers' reports on confighttp's server, so that
// TLS, authentication and the body size limit are the collector's own.
type peerServer struct {
	a       *audit
	server  *http.Server
	addr    net.Addr
	done    sync.WaitGroup
	admit   *admission // peer_limits.go
	rejects *rejectLog
}

func startPeerServer(ctx context.Context, a *audit, host component.Host) (*peerServer, error) {
	cfg := a.cfg.Peer.Server
	if cfg.NetAddr.Endpoint == "" {
		cfg.NetAddr.Endpoint = peerAddress(a.p.self, a.cfg.Peer.Port)
	}
	s := &peerServer{a: a, admit: newAdmission(a.cfg.Peer.Limits), rejects: newRejectLog(a.p.logger, a.p.now)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+peerPath, s.handleReports)
	server, err := cfg.ToServer(ctx, host.GetExtensions(), a.p.set.TelemetrySettings, s.limit(mux), confighttp.WithErrorHandler(s.httpError))
	if err != nil {
		return nil, fmt.Errorf("audit::peer::server: %w", err)
	}
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit::peer::server: listening on %s: %w", cfg.NetAddr.Endpoint, err)
	}
	if a.wrapListener != nil {
		ln = a.wrapListener(ln)
	}
	s.server, s.addr = server, ln.Addr()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.p.logger.Error("stickycheck peer server stopped", zap.Error(err))
		}
	}()
	a.p.logger.Info("stickycheck peer server listening", zap.String("endpoint", s.addr.String()))
	warnIfOpen(a.p.logger, &cfg, s.addr.String())
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
	if ct := r.Header.Get("Content-Type"); ct != peerContentType {
		s.reject(w, rejectUnsupportedMediaType, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q, want %q", ct, peerContentType))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPeerMessageLen+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.reject(w, rejectOversized, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit))
		return
	case err != nil:
		reason, status := readError(err)
		s.reject(w, reason, status, "reading body: "+err.Error())
		return
	case len(body) > maxPeerMessageLen:
		s.reject(w, rejectOversized, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxPeerMessageLen))
		return
	}
	m, err := decodeMessage(body)
	if err != nil {
		reason := rejectReason(err)
		status := http.StatusBadRequest
		if reason == rejectOversized {
			status = http.StatusRequestEntityTooLarge
		}
		s.reject(w, reason, status, protocolDetail(err))
		return
	}
	s.a.p.telemetry.ProcessorStickycheckPeerReportsReceived.Add(r.Context(), int64(len(m.reports)))
	s.a.apply(r.Context(), m.reports)
	w.WriteHeader(http.StatusNoContent)
}

func (s *peerServer) reject(w http.ResponseWriter, reason string, status int, msg string) {
	s.a.counters.rejected(context.Background(), reason)
	s.rejects.log(reason, status, msg)
	http.Error(w, reason+": "+msg, status)
}

// httpError answers what confighttp rejects before the handler runs: a
// failed authentication (401), an undecodable compressed body.
func (s *peerServer) httpError(w http.ResponseWriter, _ *http.Request, msg string, status int) {
	reason := rejectMalformed
	switch status {
	case http.StatusUnauthorized:
		reason = rejectUnauthenticated
	case http.StatusRequestEntityTooLarge:
		reason = rejectOversized
	}
	s.reject(w, reason, status, msg)
}
