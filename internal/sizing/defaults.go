package sizing // import "github.com/otelcol-tiered/otelcol-tiered/internal/sizing"

import "time"

// Every default figure of the sizing hints is in this file, and only here.
//
// The tables are the seed's (collector-architecture.md, "Resource Sizing
// Guidelines"). The cost figures are the measured table of `make bench`
// (bench/results/results.json); TestDefaultCostsAreTheMeasuredTable fails
// while they differ, so after a new run copy its figures here.

// DefaultTables are the seed's sizing tables, by role. Gateway rows are
// chosen by the tier's throughput (the seed's "RPS", read as items — spans,
// metric points and log records — per second, the unit the collector counts);
// agent and sidecar rows, for which the seed gives no throughput, by the
// measured CPU and memory their requests must cover.
var DefaultTables = map[string]Table{
	"agent": {
		{Name: "Low (dev)", CPURequest: "100m", MemoryRequest: "128Mi", CPULimit: "200m", MemoryLimit: "256Mi"},
		{Name: "Medium", CPURequest: "200m", MemoryRequest: "256Mi", CPULimit: "500m", MemoryLimit: "512Mi"},
		{Name: "High (prod)", CPURequest: "500m", MemoryRequest: "512Mi", CPULimit: "1000m", MemoryLimit: "1Gi"},
	},
	"gateway": {
		{Name: "<1k RPS", MaxItemsPerSecond: 1_000, CPURequest: "500m", MemoryRequest: "1Gi", CPULimit: "1000m", MemoryLimit: "2Gi", Replicas: 2},
		{Name: "1-10k RPS", MaxItemsPerSecond: 10_000, CPURequest: "1000m", MemoryRequest: "2Gi", CPULimit: "2000m", MemoryLimit: "4Gi", Replicas: 3},
		{Name: "10-50k RPS", MaxItemsPerSecond: 50_000, CPURequest: "2000m", MemoryRequest: "4Gi", CPULimit: "4000m", MemoryLimit: "8Gi", Replicas: 5},
		{Name: ">50k RPS", CPURequest: "4000m", MemoryRequest: "8Gi", CPULimit: "8000m", MemoryLimit: "16Gi", Replicas: 10},
	},
	"sidecar": {
		{Name: "sidecar", CPURequest: "50m", MemoryRequest: "64Mi", CPULimit: "200m", MemoryLimit: "256Mi"},
	},
}

// Cost is what a collector of one role spends to carry 10,000 items/s
// (spans, metric points and log records together).
type Cost struct {
	// CoresPer10k is CPU cores per 10,000 items/s.
	CoresPer10k float64 `json:"cores_per_10k_items_per_second"`
	// MemoryBytesPer10k is resident memory above idle per 10,000 items/s, in bytes.
	MemoryBytesPer10k float64 `json:"memory_bytes_per_10k_items_per_second"`
	// IdleMemoryBytes is the resident memory of the process with no traffic, in bytes.
	IdleMemoryBytes float64 `json:"idle_memory_bytes"`
}

// DefaultCosts are used when there is too little traffic to measure a cost.
// They are `make bench`'s figures for each tier's shipped config (the gateway
// sampling 1 %, as shipped, with the GOGC and GOMEMLIMIT of its manifests),
// measured 2026-12-02 on an Intel Xeon, 2 CPUs, at commit 95c26b8: the
// collector alone on one core (GOMAXPROCS=1), OTLP/gRPC requests of 100
// traces × 5 spans of 194 bytes. CoresPer10k is the larger of the
// benchmark's two estimates (at the highest sustained rate, and at 20,000
// spans/s); memory is RSS growth from idle to 20,000 spans/s, per 10,000.
var DefaultCosts = map[string]Cost{
	"agent":   {CoresPer10k: 0.1628, MemoryBytesPer10k: 13.4 * (1 << 20), IdleMemoryBytes: 104.0 * (1 << 20)},
	"gateway": {CoresPer10k: 0.1221, MemoryBytesPer10k: 460.6 * (1 << 20), IdleMemoryBytes: 97.9 * (1 << 20)},
	"sidecar": {CoresPer10k: 0.1435, MemoryBytesPer10k: 14.4 * (1 << 20), IdleMemoryBytes: 95.0 * (1 << 20)},
}

// DefaultTailSamplingBytesPerSpan is the heap a span held by tail_sampling
// costs, in bytes, when it cannot be measured: `make bench`'s live heap per
// trace awaiting its decision (4,230 bytes) ÷ its 5 spans of 194 bytes.
const DefaultTailSamplingBytesPerSpan = 846

// The seed's headroom rules.
const (
	// CPUTargetUtilization and MemoryTargetUtilization are the seed's HPA
	// targets (70 % CPU, 80 % memory of the requests): requests are sized so
	// that the measured use sits at the target.
	CPUTargetUtilization    = 0.70
	MemoryTargetUtilization = 0.80
	// DefaultLimitFactor is limits ÷ requests, the low end of the seed's
	// "set limits 2-4x requests".
	DefaultLimitFactor = 2.0
	// MinGatewayReplicas is the seed's "3 replicas minimum" for gateways, and
	// MaxGatewayReplicas the maxReplicas of its HPA example.
	MinGatewayReplicas = 3
	MaxGatewayReplicas = 10
)

// MinItemsPerSecondForCost is the least traffic from which a cost per
// 10,000 items/s is measured; below it idle CPU and memory dominate.
const MinItemsPerSecondForCost = 100

// DefaultWindow is the measurement window of the topology extension.
const DefaultWindow = time.Minute
