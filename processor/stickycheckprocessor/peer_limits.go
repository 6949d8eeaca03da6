package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

// What bounds the peer server, whoever calls it:
//
//   - time: confighttp's read_header_timeout and read_timeout (the whole
//     request, body included: a slow body is cut off), set by default here;
//   - memory: each request reads at most max_request_body_size (1 MiB) and
//     decodes at most maxReportsPerMsg reports, and at most
//     max_concurrent_requests are read at once (per caller host, at most
//     max_concurrent_requests_per_host), so the server holds at most
//     max_concurrent_requests × (body + reports) ≈ 32 × 1.5 MiB;
//   - a request beyond either limit is answered 429 at once, its body unread,
//     and the connection closed; the peers' client retries 429 later.
//
// Authentication (audit::peer::server::auth) runs before all this: a caller
// without the token is answered 401 before its body is read or a slot taken.
const (
	defaultPeerReadTimeout       = 10 * time.Second
	defaultPeerReadHeaderTimeout = 5 * time.Second
	defaultMaxConcurrentRequests = 32
	// A replica sends one message at a time to each peer.
	defaultMaxConcurrentPerHost = 4
	// rejectLogEvery bounds the rejection warnings: one a reason per interval,
	// with the number of rejections since the last one.
	rejectLogEvery = 10 * time.Second
)

// Reasons the server itself rejects a message, besides the protocol's
// (attribute reason of peer_reports_rejected).
const (
	rejectUnsupportedMediaType = "unsupported_media_type"
	rejectTooManyRequests      = "too_many_requests"
	rejectTimeout              = "timeout"
)

var serverRejectReasons = []string{rejectUnsupportedMediaType, rejectTooManyRequests, rejectTimeout}

// PeerLimits bound the requests the peer server reads at once.
type PeerLimits struct {
	// MaxConcurrentRequests is how many requests the server reads and
	// applies at once; more are answered 429.
	MaxConcurrentRequests int `mapstructure:"max_concurrent_requests"`
	// MaxConcurrentRequestsPerHost is the same, per caller address: one
	// caller cannot take every slot.
	MaxConcurrentRequestsPerHost int `mapstructure:"max_concurrent_requests_per_host"`
	_                            struct{}
}

func defaultPeerLimits() PeerLimits {
	return PeerLimits{MaxConcurrentRequests: defaultMaxConcurrentRequests, MaxConcurrentRequestsPerHost: defaultMaxConcurrentPerHost}
}

func (l *PeerLimits) validate(server *confighttp.ServerConfig) []error {
	var errs []error
	if l.MaxConcurrentRequests < 1 {
		errs = append(errs, fmt.Errorf("audit::peer::max_concurrent_requests: must be positive, got %d", l.MaxConcurrentRequests))
	}
	if l.MaxConcurrentRequestsPerHost < 1 || l.MaxConcurrentRequestsPerHost > l.MaxConcurrentRequests {
		errs = append(errs, fmt.Errorf("audit::peer::max_concurrent_requests_per_host: must be between 1 and max_concurrent_requests (%d), got %d", l.MaxConcurrentRequests, l.MaxConcurrentRequestsPerHost))
	}
	if server.ReadTimeout < 0 || server.ReadHeaderTimeout < 0 {
		errs = append(errs, fmt.Errorf("audit::peer::server: read_timeout and read_header_timeout must not be negative, got %s and %s", server.ReadTimeout, server.ReadHeaderTimeout))
	}
	return errs
}

// admission hands out the request slots. Lock rule: mu guards inflight and
// byHost only, is never held while a request is read, and is not taken by
// the span data path.
type admission struct {
	limits   PeerLimits
	mu       sync.Mutex
	inflight int
	byHost   map[string]int
}

func newAdmission(l PeerLimits) *admission {
	return &admission{limits: l, byHost: map[string]int{}}
}

// acquire takes a slot for a request from host; false when none is free.
func (a *admission) acquire(host string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight >= a.limits.MaxConcurrentRequests || a.byHost[host] >= a.limits.MaxConcurrentRequestsPerHost {
		return false
	}
	a.inflight++
	a.byHost[host]++
	return true
}

func (a *admission) release(host string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	if a.byHost[host]--; a.byHost[host] <= 0 {
		delete(a.byHost, host)
	}
}

// limit admits a request to next when a slot is free, and answers 429
// otherwise (the body unread, the connection closed).
func (s *peerServer) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if !s.admit.acquire(host) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			s.reject(w, rejectTooManyRequests, http.StatusTooManyRequests,
				fmt.Sprintf("more than %d requests at once (%d per host)", s.admit.limits.MaxConcurrentRequests, s.admit.limits.MaxConcurrentRequestsPerHost))
			return
		}
		defer s.admit.release(host)
		next.ServeHTTP(w, r)
	})
}

// readError is the reason and status of a failed body read: the read
// timeout (a slow body), or a broken one.
func readError(err error) (reason string, status int) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return rejectTimeout, http.StatusRequestTimeout
	}
	return wire.RejectMalformed, http.StatusBadRequest
}

// protocolDetail is a decoding error without its reason, which the answer
// already starts with.
func protocolDetail(err error) string {
	var pe *wire.Error
	if errors.As(err, &pe) {
		return pe.Detail()
	}
	return err.Error()
}

// rejectLog logs rejections at warning level, at most one per reason every
// rejectLogEvery, with how many were rejected since (every one is counted
// in peer_reports_rejected). Lock rule: mu guards the map only; the log
// call is made after it is released.
type rejectLog struct {
	logger *zap.Logger
	now    func() time.Time
	mu     sync.Mutex
	state  map[string]*rejectLogState
}

type rejectLogState struct {
	last       time.Time
	suppressed int
}

func newRejectLog(logger *zap.Logger, now func() time.Time) *rejectLog {
	return &rejectLog{logger: logger, now: now, state: map[string]*rejectLogState{}}
}

func (l *rejectLog) log(reason string, status int, msg string) {
	now := l.now()
	l.mu.Lock()
	st := l.state[reason]
	if st == nil {
		st = &rejectLogState{}
		l.state[reason] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < rejectLogEvery {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	l.logger.Warn("stickycheck peer message rejected (peer_reports_rejected counts every one)",
		zap.String("reason", reason), zap.Int("status", status), zap.String("detail", msg),
		zap.Int("rejected_since_last_warning", suppressed), zap.Duration("at_most_one_warning_per", rejectLogEvery))
}

// warnIfOpen says at start that the peer server takes anyone's reports.
func warnIfOpen(logger *zap.Logger, cfg *confighttp.ServerConfig, endpoint string) {
	if cfg.Auth.HasValue() {
		return
	}
	logger.Warn("stickycheck peer server has no authentication: anyone who reaches "+endpoint+
		" can forge, hide or wipe the split-trace audit's counts; set audit::peer::server::auth and audit::peer::client::auth "+
		"(the shipped gateway config uses bearertokenauth with STICKYCHECK_PEER_TOKEN)",
		zap.String("endpoint", endpoint))
}
