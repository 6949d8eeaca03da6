package loadgen

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Outcome is the collector's answer to one request.
type Outcome struct {
	// Status names the answer: "OK", a gRPC code ("Unavailable"), "HTTP 503",
	// or for requests that got no answer the reason ("DeadlineExceeded").
	Status string
	// Message is the collector's or the transport's message, if any.
	Message string
	// Rejected spans of an otherwise accepted request (OTLP partial success).
	Rejected int64
	// Kind classifies the outcome.
	Kind OutcomeKind
}

// OutcomeKind says whether the collector took the request.
type OutcomeKind int

const (
	// Accepted: the collector answered OK.
	Accepted OutcomeKind = iota
	// Refused: the collector answered with an error status.
	Refused
	// Failed: no answer — connection failure or timeout.
	Failed
)

// Sender sends one serialised ExportTraceServiceRequest and returns the
// collector's answer. A Sender is used by one goroutine at a time per
// in-flight request; implementations are safe for concurrent use.
type Sender interface {
	Export(ctx context.Context, request []byte) Outcome
	Close() error
}

// Protocol is how requests travel.
type Protocol string

// Protocols.
const (
	GRPC Protocol = "grpc"
	HTTP Protocol = "http"
)

// Compression of requests on the wire.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// reachable dials the endpoint's TCP port once, so that an endpoint nobody
// listens on is named at start instead of as a run of failed requests.
func reachable(ctx context.Context, hostport string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", hostport, err)
	}
	return c.Close()
}
