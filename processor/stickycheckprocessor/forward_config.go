package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"fmt"
	"time"
)

// ForwardConfig keeps each trace on the replica that first got it: spans of
// a trace another replica holds (the audit remembers it) or owns are
// forwarded to it over the peer channel, once. It needs the audit: with the
// audit off (audit::enabled false, as the benchmarks switch it), forwarding
// is off too, said once at start.
type ForwardConfig struct {
	// Enabled switches forwarding on.
	Enabled bool `mapstructure:"enabled"`
	// Hold is how long after a ring change the spans of traces this replica
	// does not know, whose owner under the previous ring is another member,
	// go to that replica (which may hold them, its handoff not arrived yet).
	Hold time.Duration `mapstructure:"hold"`
	// Drain is how long a replica that shuts down, having left the ring and
	// handed its traces over, keeps receiving the spans its peers forward
	// for the traces it holds.
	Drain time.Duration `mapstructure:"drain"`
	// QueueSize bounds the spans waiting to be forwarded; beyond, spans are
	// processed here and counted (outcome queue_full).
	QueueSize int `mapstructure:"queue_size"`
	_         struct{}
}

const (
	defaultForwardHold      = 2 * time.Second
	defaultForwardDrain     = 5 * time.Second
	defaultForwardQueueSize = 100_000
)

func defaultForwardConfig() ForwardConfig {
	return ForwardConfig{Hold: defaultForwardHold, Drain: defaultForwardDrain, QueueSize: defaultForwardQueueSize}
}

// validate checks the forward section.
func (c *ForwardConfig) validate(grace time.Duration) []error {
	var errs []error
	if c.Hold < 0 {
		errs = append(errs, fmt.Errorf("forward::hold: must not be negative, got %s", c.Hold))
	} else if c.Enabled && c.Hold > grace {
		errs = append(errs, fmt.Errorf("forward::hold: %s is longer than grace (%s): a previous owner is asked for its traces only within grace of a change", c.Hold, grace))
	}
	if c.Drain < 0 {
		errs = append(errs, fmt.Errorf("forward::drain: must not be negative, got %s", c.Drain))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("forward::queue_size: must be positive, got %d", c.QueueSize))
	}
	return errs
}
