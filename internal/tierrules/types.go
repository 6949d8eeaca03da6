package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

// Canonical component types the rules look for, as each factory's
// metadata.yaml names them at v0.159.0.
const (
	TypeTailSampling  = "tail_sampling"
	TypeGroupByTrace  = "groupbytrace"
	TypeStickycheck   = "stickycheck"
	TypeMemoryLimiter = "memory_limiter"
	TypeBatch         = "batch"
	TypeK8sAttributes = "k8s_attributes"
	TypeLoadBalancing = "load_balancing"
	TypeHealthCheck   = "health_check"
	TypeFileLog       = "file_log"
	TypeHostMetrics   = "host_metrics"
	TypeKubeletStats  = "kubelet_stats"
	TypeTopology      = "topology"
)

// deprecatedAliases maps the old names that factories still accept at
// v0.159.0 (`deprecated_type` in their metadata.yaml) to the current type.
// tail_sampling, memory_limiter, health_check, batch and groupbytrace have
// never had another name, so they have no entry.
var deprecatedAliases = map[string]string{
	"k8sattributes":     TypeK8sAttributes,
	"loadbalancing":     TypeLoadBalancing,
	"filelog":           TypeFileLog,
	"hostmetrics":       TypeHostMetrics,
	"kubeletstats":      TypeKubeletStats,
	"resourcedetection": "resource_detection",
	"spanmetrics":       "span_metrics",
	"otlphttp":          "otlp_http",
}

// CanonicalType returns the current name of a component type written as t.
func CanonicalType(t string) string {
	if c, ok := deprecatedAliases[t]; ok {
		return c
	}
	return t
}
