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
// the live heap between collections, and GatewayGoMemLimit bounds that
// growth (README, "Sizing": the ratio measured, and the RSS it costs).
const GatewayGOGC = "400"

// GatewayGoMemLimit is the GOMEMLIMIT of a gateway whose container requests
// request bytes of memory (0: none) and may use limit bytes. With GOGC above
// the default the heap holds more garbage, so the runtime must collect it
// before anything else acts on it: memory_limiter, whose soft limit is 60 %
// of the limit (limit_percentage 80 − spike_limit_percentage 20) and which
// refuses data above it, and the HorizontalPodAutoscaler, whose memory
// target is 80 % of the request. 75 % of the request, at most 50 % of the
// limit, in whole MiB.
func GatewayGoMemLimit(request, limit int64) string {
	v := limit / 2
	if request > 0 {
		v = min(v, request*3/4)
	}
	return fmt.Sprintf("%dMiB", v>>20)
}
