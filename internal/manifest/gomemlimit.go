package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import "fmt"

// GoMemLimit is the GOMEMLIMIT every shipped manifest gives a collector
// whose container may use limit bytes: 80 % of it, rounded down to a whole
// MiB, the value and format of the upstream Helm chart's useGOMEMLIMIT
// (templates/_helpers.tpl, "opentelemetry-collector.gomemlimit"). Below the
// limit by the room the runtime's non-heap memory and the kernel's page cache
// of the container need.
func GoMemLimit(limit int64) string {
	return fmt.Sprintf("%dMiB", limit*8/10>>20)
}
