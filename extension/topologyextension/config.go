// Package topologyextension says which tier a collector plays and checks its
// configuration against the rules of that tier.
package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import "fmt"

// Config is the configuration of the topology extension.
type Config struct {
	// Role is the tier this collector plays: agent, gateway or sidecar.
	Role string `mapstructure:"role"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch c.Role {
	case "agent", "gateway", "sidecar":
		return nil
	case "":
		return fmt.Errorf("role: required, one of agent, gateway, sidecar")
	default:
		return fmt.Errorf("role: unknown role %q, want one of agent, gateway, sidecar", c.Role)
	}
}
