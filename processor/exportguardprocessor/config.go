package exportguardprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor"

import (
	"compress/gzip"
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
)

// Config of the exportguard processor. Place it last in a pipeline, right
// before the exporter it guards.
type Config struct {
	// MaxSpanBytes drops, alone, every span whose request by itself (the span
	// with its resource and scope, as the exporter's bytes sizer counts it)
	// is larger: a batch bounded to this size (sending_queue::batch::max_size
	// with sizer bytes) then always has room for each span, and the batcher
	// never fails a split (upstream drops the whole rest of the request with
	// the span that does not fit). 0: no limit. Traces only.
	MaxSpanBytes int64 `mapstructure:"max_span_bytes"`

	// Drain, when set, holds the collector's stop until the exporter's
	// sending queue is empty: processors stop before exporters, so while
	// this one waits the exporter keeps sending what its queue holds — a
	// persistent queue included, which upstream leaves on disk otherwise.
	Drain configoptional.Optional[DrainConfig] `mapstructure:"drain"`

	// GzipLevel, when set (1 fastest to 9 smallest), is the level of gRPC's
	// gzip compressor, which every gRPC exporter of the process with
	// compression: gzip shares: configgrpc has no compression level (the
	// HTTP exporters' confighttp has compression_params::level). 0 leaves
	// gRPC's default, level 6. Every exportguard of a collector that sets it
	// must set the same level.
	GzipLevel int `mapstructure:"gzip_level"`
}

// DrainConfig says whose queue to wait for and how long.
type DrainConfig struct {
	// Exporter is the exporter whose sending queue must be empty before the
	// stop goes on, e.g. otlp_grpc/backend.
	Exporter component.ID `mapstructure:"exporter"`
	// MetricsEndpoint is host:port of this collector's own Prometheus
	// self-telemetry (service::telemetry::metrics), where the exporter's
	// otelcol_exporter_queue_size is read: the queue's items, including the
	// ones being sent.
	MetricsEndpoint string `mapstructure:"metrics_endpoint"`
	// Timeout bounds the wait: after it the rest stays in the queue (on disk
	// for a persistent queue, for this replica's next start). The stop
	// budget counts it: the grace period must cover it.
	Timeout time.Duration `mapstructure:"timeout"`
	// PollInterval is how often the queue is read while waiting.
	PollInterval time.Duration `mapstructure:"poll_interval"`
}

// Validate checks the configuration; errors name the field from the
// processor's root.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxSpanBytes < 0 {
		errs = append(errs, fmt.Errorf("max_span_bytes: %d is negative (0 means no limit)", c.MaxSpanBytes))
	}
	if c.GzipLevel < 0 || c.GzipLevel > gzip.BestCompression {
		errs = append(errs, fmt.Errorf("gzip_level: %d is not a gzip level: 1 (fastest) to 9 (smallest), or 0 for gRPC's default", c.GzipLevel))
	}
	if d := c.Drain.Get(); d != nil {
		if d.Exporter.String() == "" || d.Exporter.Type().String() == "" {
			errs = append(errs, errors.New("drain::exporter: required, the exporter whose queue to drain (e.g. otlp_grpc/backend)"))
		}
		if _, _, err := net.SplitHostPort(d.MetricsEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("drain::metrics_endpoint: %q is not host:port of the collector's Prometheus self-telemetry: %w", d.MetricsEndpoint, err))
		}
		if d.Timeout <= 0 {
			errs = append(errs, fmt.Errorf("drain::timeout: %s must be positive", d.Timeout))
		}
		if d.PollInterval <= 0 || (d.Timeout > 0 && d.PollInterval > d.Timeout) {
			errs = append(errs, fmt.Errorf("drain::poll_interval: %s must be positive and at most drain::timeout", d.PollInterval))
		}
	}
	return errors.Join(errs...)
}
