package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/otelcol-tiered/otelcol-tiered/internal/confcheck"
)

// AuditConfig turns on the split-trace audit: each replica remembers the
// traces it saw within Window and tells their owners, so that the tier
// counts each trace seen by two or more replicas exactly once.
type AuditConfig struct {
	// Window is how long a replica remembers a trace after its last span
	// (or report). Cover tail sampling's decision_wait and the longest trace.
	Window time.Duration `mapstructure:"window"`
	// MaxTraces bounds the traces remembered; the table is allocated once at
	// this size. Traces evicted before their window ends are counted.
	MaxTraces int `mapstructure:"max_traces"`
	// Peer is the protocol between gateway replicas.
	Peer PeerConfig `mapstructure:"peer"`
	// maxTracesErr is what was wrong with max_traces as written (a
	// fraction, a number too large for an int), found by Unmarshal and
	// reported by validate with the other errors.
	maxTracesErr error
	_            struct{}
}

// PeerConfig configures the peer protocol: a server on every replica and a
// client that reaches each peer at its member host and Port.
type PeerConfig struct {
	// Port is where every replica's peer server listens; a peer's address is
	// the host of its member string with this port.
	Port int `mapstructure:"port"`
	// Server is this replica's peer server (endpoint, tls, auth,
	// max_request_body_size, ...). An empty endpoint means the host of
	// `self` with Port.
	Server confighttp.ServerConfig `mapstructure:"server"`
	// Client reaches the peers (tls, auth, headers, timeout, compression,
	// ...). Its endpoint must stay empty. Every replica runs the same
	// config: the peers are reached over HTTPS when Server has tls, and
	// Client's tls verifies them.
	Client confighttp.ClientConfig `mapstructure:"client"`
	// FlushInterval is how often queued reports are sent.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// QueueSize bounds the reports waiting to be sent; more are dropped
	// and counted.
	QueueSize int `mapstructure:"queue_size"`
	// Limits bound what the peer server spends on its callers (peer_limits.go).
	Limits PeerLimits `mapstructure:",squash"`
	_      struct{}
}

const (
	defaultWindow        = 30 * time.Second
	defaultMaxTraces     = 500_000
	defaultPeerPort      = 4319
	defaultFlushInterval = time.Second
	defaultQueueSize     = 100_000
	defaultPeerTimeout   = 5 * time.Second
	// defaultMaxRequestBodySize holds the largest message a client sends
	// (maxReportsPerMessage reports) with room to spare.
	defaultMaxRequestBodySize = 1 << 20
	// maxMaxTraces is what the largest replica of the sizing table (8 CPUs,
	// 16 GiB) can use: at about 4.5 µs of CPU a span it takes some 1.8
	// million spans a second, 180,000 traces of ten spans, 5.3 million
	// traces in a 30 s window; 2^24 (16.8 million, 720 MB) is three times
	// that. Beyond, the table alone would outgrow the container.
	maxMaxTraces = 1 << 24
	// minWindow catches a window written without its unit (30 is 30 ns).
	minWindow        = 100 * time.Millisecond
	minFlushInterval = time.Millisecond
)

func defaultAuditConfig() AuditConfig {
	server := confighttp.NewDefaultServerConfig()
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	server.ReadTimeout = defaultPeerReadTimeout
	server.ReadHeaderTimeout = defaultPeerReadHeaderTimeout
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultPeerTimeout
	return AuditConfig{
		Window:    defaultWindow,
		MaxTraces: defaultMaxTraces,
		Peer: PeerConfig{
			Port:          defaultPeerPort,
			Server:        server,
			Client:        client,
			FlushInterval: defaultFlushInterval,
			QueueSize:     defaultQueueSize,
			Limits:        defaultPeerLimits(),
		},
	}
}

// validate checks the audit section (Config.Validate calls it, so that each
// error names its field from the processor's root); grace and self are the
// processor's.
func (c *AuditConfig) validate(grace time.Duration, self string) []error {
	var errs []error
	if err := confcheck.Duration("audit::window", c.Window, minWindow, false); err != nil {
		errs = append(errs, err)
	} else if c.Window < grace {
		errs = append(errs, fmt.Errorf("audit::window: %s is shorter than grace %s: a trace handed over after a ring change may be forgotten before its handoff arrives; keep window at or above grace", c.Window, grace))
	}
	switch {
	case c.maxTracesErr != nil:
		errs = append(errs, c.maxTracesErr)
	case c.MaxTraces < 1 || c.MaxTraces > maxMaxTraces:
		errs = append(errs, fmt.Errorf("audit::max_traces: must be between 1 and %d (%s of table), got %d", maxMaxTraces, formatBytes(tableBytes(maxMaxTraces)), c.MaxTraces))
	}
	p := &c.Peer
	if p.Port < 1 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("audit::peer::port: must be between 1 and 65535, got %d", p.Port))
	} else if _, port, err := net.SplitHostPort(self); err == nil && port == strconv.Itoa(p.Port) {
		errs = append(errs, fmt.Errorf("audit::peer::port: %d is the port of self (%s), the OTLP port the agents send spans to; the peer server needs its own (default %d)", p.Port, self, defaultPeerPort))
	}
	if p.Client.Endpoint != "" {
		errs = append(errs, fmt.Errorf("audit::peer::client::endpoint: must be empty, got %q: each peer is reached at its member host and audit::peer::port", p.Client.Endpoint))
	}
	if tls := p.Client.TLS; !p.Server.TLS.HasValue() && (tls.CAFile != "" || tls.CAPem != "" || tls.CertFile != "" || tls.CertPem != "") {
		errs = append(errs, errors.New("audit::peer::client::tls: certificates are set but audit::peer::server has no tls: every replica runs this config, so the peers speak plain HTTP; set audit::peer::server::tls too"))
	}
	if err := confcheck.Duration("audit::peer::flush_interval", p.FlushInterval, minFlushInterval, false); err != nil {
		errs = append(errs, err)
	}
	if p.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("audit::peer::queue_size: must be positive, got %d", p.QueueSize))
	}
	if p.Server.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("audit::peer::server::max_request_body_size: must not be negative, got %d", p.Server.MaxRequestBodySize))
	}
	errs = append(errs, p.Limits.validate(&p.Server)...)
	return errs
}

// peerScheme is https when the peer server has TLS: every replica runs the
// same config, so the peers do too.
func (p *PeerConfig) peerScheme() string {
	if p.Server.TLS.HasValue() {
		return "https"
	}
	return "http"
}

// peerAddress is where the peer named member by the ring listens: its host
// (the member string without its port, if any) with port.
func peerAddress(member string, port int) string {
	host := member
	if h, _, err := net.SplitHostPort(member); err == nil {
		host = h
	} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // a bare IPv6 member, as the dns resolver writes it
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
