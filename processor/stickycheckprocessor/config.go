// Package stickycheckprocessor detects spans that reached a gateway replica
// which does not own their trace under the agents' load-balancing ring.
package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

// Config is the configuration of the stickycheck processor.
type Config struct{}

// Validate checks the configuration.
func (*Config) Validate() error { return nil }
