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

// GatewayGOGC is the GOGC of every shipped gateway. Tail sampling holds its
// traces for decision_wait and then lets them go, so a gateway allocates
// fast and keeps little: with the default GOGC of 100 the Go GC took 22–30 %
// of its CPU (make bench's profile). 400 lets the heap grow to five times
// the live heap between collections, and GOMEMLIMIT (GoMemLimit) bounds that
// growth; the gateway's memory_limiter has its soft limit there, not below,
// so that it does not refuse data for garbage the runtime has not yet
// collected (configs/gateway.yaml; README, "Sizing").
const GatewayGOGC = "400"
