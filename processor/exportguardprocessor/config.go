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

	// Admission, when set, refuses new data with a retryable error while
	// the exporter's sending queue is above HighWater of its capacity. Put
	// such an exportguard first (after memory_limiter), before
	// tail_sampling and batch: they answer the sender OK before the queue
	// sees the data, so a full queue drops what an admission check refuses
	// back to the sender, whose queue and retry then hold it.
	Admission configoptional.Optional[AdmissionConfig] `mapstructure:"admission"`
}

// AdmissionConfig says whose queue to watch and when to refuse.
type AdmissionConfig struct {
	// Exporter is the exporter whose sending queue is watched, e.g.
	// otlp_grpc/backend.
	Exporter component.ID `mapstructure:"exporter"`
	// MetricsEndpoint is host:port of this collector's own Prometheus
	// self-telemetry, where otelcol_exporter_queue_size and
	// otelcol_exporter_queue_capacity are read.
	MetricsEndpoint string `mapstructure:"metrics_endpoint"`
	// HighWater is the share of the queue's capacity (0 < x < 1) at and
	// above which new data is refused. The rest must hold what the
	// processors after this one still hand to the exporter once refusing
	// starts: tail_sampling's decision_wait and batch's timeout of traffic,
	// plus poll_interval of it.
	HighWater float64 `mapstructure:"high_water"`
	// PollInterval is how often the queue is read.
	PollInterval time.Duration `mapstructure:"poll_interval"`
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
	if a := c.Admission.Get(); a != nil {
		if a.Exporter.String() == "" || a.Exporter.Type().String() == "" {
			errs = append(errs, errors.New("admission::exporter: required, the exporter whose queue to watch (e.g. otlp_grpc/backend)"))
		}
		if _, _, err := net.SplitHostPort(a.MetricsEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("admission::metrics_endpoint: %q is not host:port of the collector's Prometheus self-telemetry: %w", a.MetricsEndpoint, err))
		}
		if !(a.HighWater > 0 && a.HighWater < 1) {
			errs = append(errs, fmt.Errorf("admission::high_water: %v must be a share of the queue's capacity, above 0 and below 1 (e.g. 0.8)", a.HighWater))
		}
		if a.PollInterval <= 0 {
			errs = append(errs, fmt.Errorf("admission::poll_interval: %s must be positive", a.PollInterval))
		}
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
