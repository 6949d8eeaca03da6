// Package topologyextension says which tier a collector plays, checks its
// running configuration against the rules of that tier, and gives sizing
// hints from what it measures live, over HTTP.
package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// Bounds of the measurement window: at least a few scrapes, at most what a
// sizing decision still reflects.
const (
	minWindow = 5 * time.Second
	maxWindow = time.Hour
)

// Config is the configuration of the topology extension.
type Config struct {
	// ServerConfig is the HTTP server of the endpoint (endpoint, tls, ...).
	confighttp.ServerConfig `mapstructure:",squash"`
	// Role is the tier this collector plays: agent, gateway or sidecar.
	Role string `mapstructure:"role"`
	// Window is the time over which rates and CPU are measured.
	Window time.Duration `mapstructure:"window"`
	// Strict stops startup on error-level findings of the rule check.
	Strict bool `mapstructure:"strict"`
	// Sizing overrides the defaults of the sizing hints.
	Sizing SizingConfig `mapstructure:"sizing"`
}

// SizingConfig overrides the sizing defaults.
type SizingConfig struct {
	// Table replaces the seed's table of this collector's role.
	Table sizing.Table `mapstructure:"table"`
	// LimitFactor is limits ÷ requests in the hint (the seed: 2 to 4).
	LimitFactor float64 `mapstructure:"limit_factor"`
}

// Validate checks the configuration; every error names its field. The
// collector validates sizing::table itself (sizing.Table.Validate).
func (c *Config) Validate() error {
	var errs []error
	if _, err := tierrules.ParseRole(c.Role); err != nil {
		errs = append(errs, fmt.Errorf("role: %w", err))
	}
	if err := validateEndpoint(c.NetAddr.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %w", err))
	}
	if c.Window < minWindow || c.Window > maxWindow {
		errs = append(errs, fmt.Errorf("window: %s out of range %s to %s", c.Window, minWindow, maxWindow))
	}
	if c.Sizing.LimitFactor < 1 {
		errs = append(errs, fmt.Errorf("sizing::limit_factor: %g would put limits below requests (the seed: 2 to 4)", c.Sizing.LimitFactor))
	}
	return errors.Join(errs...)
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("required, host:port (e.g. ${env:POD_IP}:13134)")
	}
	_, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", endpoint, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", endpoint, port)
	}
	return nil
}
