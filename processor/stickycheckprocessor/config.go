// Package stickycheckprocessor checks, on each gateway replica, that the spans
// it receives belong to traces the agents' load-balancing ring gives to this
// replica, and counts those that do not.
package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-tiered/otelcol-tiered/internal/confcheck"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
)

// Action is what the processor does with a misrouted span.
type Action string

const (
	// ActionPass counts misrouted spans and lets them through.
	ActionPass Action = "pass"
	// ActionTag also adds span attributes naming the expected owner.
	ActionTag Action = "tag"
	// ActionDrop drops misrouted spans.
	ActionDrop Action = "drop"
)

// Config is the configuration of the stickycheck processor.
type Config struct {
	// Self is this replica exactly as the agents' ring names it, e.g.
	// "10.0.0.7:4317" or "otel-gateway-0.otel-gateway-headless.observability:4317".
	Self string `mapstructure:"self"`
	// ResolveSelf resolves the host part of Self to its IPv4 address at start
	// (for containers that only know their hostname).
	ResolveSelf bool `mapstructure:"resolve_self"`
	// Resolver is the agents' load-balancing resolver block.
	Resolver ring.ResolverConfig `mapstructure:"resolver"`
	// Ring is the upstream ring generation the agents use.
	Ring string `mapstructure:"ring"`
	// Action is pass, tag or drop.
	Action Action `mapstructure:"action"`
	// Grace is how long after a member list change misroutes count with
	// reason ring_change instead of not_owner.
	Grace time.Duration `mapstructure:"grace"`
	// Audit, when present, counts split traces across the tier with the
	// other replicas (see AuditConfig).
	Audit configoptional.Optional[AuditConfig] `mapstructure:"audit"`
	// Forward keeps traces whole across replicas (see ForwardConfig).
	Forward ForwardConfig `mapstructure:"forward"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Self == "" {
		errs = append(errs, errors.New("self: required, this replica as the agents' ring names it (e.g. ${env:POD_IP}:4317)"))
	} else if c.ResolveSelf {
		if _, _, err := net.SplitHostPort(c.Self); err != nil {
			errs = append(errs, fmt.Errorf("self: with resolve_self, want host:port: %w", err))
		}
	}
	if err := c.Resolver.Check(); err != nil {
		errs = append(errs, err)
	}
	if _, err := ring.ParseGeneration(c.Ring); err != nil {
		errs = append(errs, fmt.Errorf("ring: %w", err))
	}
	switch c.Action {
	case ActionPass, ActionTag, ActionDrop:
	default:
		errs = append(errs, fmt.Errorf("action: unknown action %q, want pass, tag or drop", c.Action))
	}
	if err := confcheck.Duration("grace", c.Grace, time.Millisecond, true); err != nil {
		errs = append(errs, err)
	}
	if c.Audit.HasValue() {
		errs = append(errs, c.Audit.Get().validate(c.Grace, c.Self)...)
	}
	errs = append(errs, c.Forward.validate(c.Grace)...)
	return errors.Join(errs...)
}
