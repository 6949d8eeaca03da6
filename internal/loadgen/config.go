package loadgen

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is one run of the generator.
type Config struct {
	// Endpoint is the collector's OTLP host:port (gRPC or HTTP per Protocol).
	Endpoint    string
	Protocol    Protocol
	Compression string
	// Rate is the target in spans per second; 0 means as fast as the
	// collector answers (rate max).
	Rate float64
	// The run stops at whichever bound comes first; at least one is set.
	// Count is in spans, a whole number of requests.
	Duration time.Duration
	Count    int64
	// Conns connections, each with Inflight requests outstanding at most.
	Conns    int
	Inflight int
	Shape    Shape
	Seed     uint64
	// DialTimeout bounds connecting; ExportTimeout each request.
	DialTimeout   time.Duration
	ExportTimeout time.Duration
}

// DefaultConfig is what cmd/loadgen starts from.
func DefaultConfig() Config {
	return Config{
		Endpoint:      "127.0.0.1:4317",
		Protocol:      GRPC,
		Compression:   CompressionNone,
		Rate:          10_000,
		Duration:      10 * time.Second,
		Conns:         2,
		Inflight:      4,
		Shape:         Shape{SpansPerTrace: 5, TracesPerRequest: 100, Attributes: 4, AttributeSize: 16, Services: 1},
		Seed:          1,
		DialTimeout:   5 * time.Second,
		ExportTimeout: 10 * time.Second,
	}
}

// Requests is the number of requests Count asks for (0: no count bound).
func (c Config) Requests() int64 {
	if c.Count == 0 {
		return 0
	}
	return c.Count / int64(c.Shape.Spans())
}

// Validate names each field that is wrong and what is wrong with it.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Endpoint); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q is not host:port", c.Endpoint))
	}
	if c.Protocol != GRPC && c.Protocol != HTTP {
		errs = append(errs, fmt.Errorf("protocol: %q is not grpc or http", c.Protocol))
	}
	if c.Compression != CompressionNone && c.Compression != CompressionGzip {
		errs = append(errs, fmt.Errorf("compression: %q is not none or gzip", c.Compression))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate: must be a positive number of spans per second, or max (got %g)", c.Rate))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration: must not be negative (got %s)", c.Duration))
	}
	if c.Count < 0 {
		errs = append(errs, fmt.Errorf("count: must not be negative (got %d)", c.Count))
	}
	if c.Duration == 0 && c.Count == 0 {
		errs = append(errs, errors.New("duration, count: a run is bounded: give a duration, a count of spans, or both"))
	}
	if c.Conns < 1 {
		errs = append(errs, fmt.Errorf("conns: must be at least 1 (got %d)", c.Conns))
	}
	if c.Inflight < 1 {
		errs = append(errs, fmt.Errorf("inflight: must be at least 1 (got %d)", c.Inflight))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dial-timeout: must be positive (got %s)", c.DialTimeout))
	}
	if c.ExportTimeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive (got %s)", c.ExportTimeout))
	}
	if err := c.Shape.Validate(); err != nil {
		errs = append(errs, err)
	} else if n := int64(c.Shape.Spans()); c.Count > 0 && c.Count%n != 0 {
		errs = append(errs, fmt.Errorf("count: %d spans is not a whole number of requests of %d spans (traces-per-request × spans-per-trace); try %d",
			c.Count, n, (c.Count/n+1)*n))
	}
	return errors.Join(errs...)
}
