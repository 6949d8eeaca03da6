package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
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
	_    struct{}
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
	// ...). Its endpoint must stay empty. With tls.insecure the peers are
	// reached over plain HTTP, otherwise over HTTPS.
	Client confighttp.ClientConfig `mapstructure:"client"`
	// FlushInterval is how often queued reports are sent.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// QueueSize bounds the reports waiting to be sent; more are dropped
	// and counted.
	QueueSize int `mapstructure:"queue_size"`
	_         struct{}
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
	maxMaxTraces              = 1 << 28
)

func defaultAuditConfig() AuditConfig {
	server := confighttp.NewDefaultServerConfig()
	server.MaxRequestBodySize = defaultMaxRequestBodySize
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultPeerTimeout
	client.TLS.Insecure = true
	return AuditConfig{
		Window:    defaultWindow,
		MaxTraces: defaultMaxTraces,
		Peer: PeerConfig{
			Port:          defaultPeerPort,
			Server:        server,
			Client:        client,
			FlushInterval: defaultFlushInterval,
			QueueSize:     defaultQueueSize,
		},
	}
}

// Validate checks the audit section; confmap.Validate prefixes "audit".
func (c *AuditConfig) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("window: must be positive, got %s", c.Window))
	}
	if c.MaxTraces < 1 || c.MaxTraces > maxMaxTraces {
		errs = append(errs, fmt.Errorf("max_traces: must be between 1 and %d, got %d", maxMaxTraces, c.MaxTraces))
	}
	p := &c.Peer
	if p.Port < 1 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("peer::port: must be between 1 and 65535, got %d", p.Port))
	}
	if p.Client.Endpoint != "" {
		errs = append(errs, fmt.Errorf("peer::client::endpoint: must be empty, got %q: each peer is reached at its member host and peer::port", p.Client.Endpoint))
	}
	if p.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("peer::flush_interval: must be positive, got %s", p.FlushInterval))
	}
	if p.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("peer::queue_size: must be positive, got %d", p.QueueSize))
	}
	if p.Server.MaxRequestBodySize < 0 {
		errs = append(errs, fmt.Errorf("peer::server::max_request_body_size: must not be negative, got %d", p.Server.MaxRequestBodySize))
	}
	return errors.Join(errs...)
}

// peerScheme is https unless the client's TLS is switched off with
// tls.insecure, as configtls documents it for HTTP clients.
func (p *PeerConfig) peerScheme() string {
	if p.Client.TLS.Insecure {
		return "http"
	}
	return "https"
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
