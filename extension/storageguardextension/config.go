package storageguardextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/storageguardextension"

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config of the storage guard: the storage extension it wraps.
type Config struct {
	// Storage is the storage extension whose clients the guard wraps, e.g.
	// file_storage. The exporters' sending_queue::storage names the guard.
	Storage component.ID `mapstructure:"storage"`
	// LogInterval bounds the guard's warnings: at most one line per kind of
	// failure per interval, with the count since the last line.
	LogInterval time.Duration `mapstructure:"log_interval"`

	_ struct{}
}

// Validate names the field that is wrong.
func (c *Config) Validate() error {
	var errs []error
	if c.Storage == (component.ID{}) {
		errs = append(errs, errors.New("storage: required, the storage extension to guard (e.g. file_storage)"))
	} else if c.Storage.Type().String() == "storageguard" {
		errs = append(errs, errors.New("storage: must name the storage extension to guard (e.g. file_storage), not a storageguard"))
	}
	if c.LogInterval <= 0 {
		errs = append(errs, errors.New("log_interval: must be positive (e.g. 10s)"))
	}
	return errors.Join(errs...)
}
