package sizing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

func TestDefaultTablesAreValid(t *testing.T) {
	for role, table := range DefaultTables {
		assert.NoError(t, table.Validate(), role)
		assert.Contains(t, DefaultCosts, role)
	}
}

func TestTableValidateNamesRowAndField(t *testing.T) {
	row := func(max float64) Row {
		return Row{Name: "r", MaxItemsPerSecond: max, CPURequest: "100m", MemoryRequest: "1Gi", CPULimit: "200m", MemoryLimit: "2Gi"}
	}
	bad := row(0)
	bad.CPURequest, bad.MemoryLimit, bad.Name = "lots", "512Mi", ""
	for want, table := range map[string]Table{
		`[0]::cpu_request: "lots" is not a Kubernetes quantity`: {bad},
		"[0]::memory_limit: 512Mi is below memory_request 1Gi":  {bad},
		"[0]::name: required": {bad},
		"[1]::max_items_per_second: 500 is not above the previous row's 1000": {row(1000), row(500)},
		"[1]::max_items_per_second: a bounded row after an unbounded one":     {row(0), row(500)},
		"[0]::cpu_limit: required":            {{Name: "x", CPURequest: "1", MemoryRequest: "1Gi", MemoryLimit: "1Gi"}},
		"[0]::replicas: must not be negative": {{Name: "x", CPURequest: "1", MemoryRequest: "1Gi", CPULimit: "1", MemoryLimit: "1Gi", Replicas: -1}},
	} {
		err := table.Validate()
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
	}
}

func gatewayInput() Input {
	return Input{
		Role: "gateway", Table: DefaultTables["gateway"], Cost: DefaultCosts["gateway"],
		Measurement: Measurement{
			Over: time.Minute, Samples: 13, SpansPerSecond: 2000, TracesPerSecond: 400,
			CPUCores: 0.14, RSSBytes: 150 * mi, IdleRSSBytes: 100 * mi,
			HeapBytes: 300 * mi, IdleHeapBytes: 50 * mi, TracesInMemory: 4000, Replicas: 3,
			Source: "http://127.0.0.1:8888/metrics",
		},
		TailSampling: &TailSamplingConfig{DecisionWait: 10 * time.Second, NumTraces: 100_000},
	}
}

func TestGatewayReport(t *testing.T) {
	r := Compute(gatewayInput())
	assert.Equal(t, 2000.0, r.Measured.ItemsPerSecond)
	assert.Equal(t, "1-10k RPS", r.Table.Row.Name, "3 replicas × 2,000 items/s")
	assert.Equal(t, 6000.0, r.Table.TierItemsPerSecond)
	assert.False(t, r.Table.Exceeded)

	// 0.14 cores at 70 % → 200m; the tail-sampling estimate (below) beats the RSS.
	assert.Equal(t, "200m", r.Hint.Requests.CPU)
	assert.Equal(t, "400m", r.Hint.Limits.CPU)

	require.NotNil(t, r.TailSampling)
	assert.Equal(t, 5.0, r.TailSampling.SpansPerTrace)
	// 250 MiB above idle over the 20,000 spans awaiting a decision
	// (400 traces/s × 10 s × 5 spans), not the 4,000 traces on memory.
	assert.True(t, r.TailSampling.BytesPerSpanMeasured)
	assert.Equal(t, 13107.0, r.TailSampling.BytesPerSpan)
	assert.Equal(t, int64(400*10*5*13107), r.TailSampling.EstimateBytes)
	assert.Equal(t, int64(4000), r.TailSampling.TracesOnMemory)
	// max(150 MiB, 100 MiB + 250 MiB) / 0.8 = 437.5 → 448Mi.
	assert.Equal(t, "448Mi", r.Hint.Requests.Memory)
	assert.Equal(t, "896Mi", r.Hint.Limits.Memory)

	assert.True(t, r.Cost.Measured)
	assert.Equal(t, 0.7, r.Cost.CoresPer10k)
	assert.Equal(t, int64(250*mi), r.Cost.MemoryBytesPer10k)

	require.NotNil(t, r.Replicas)
	assert.Equal(t, Replicas{Replicas: 3, HPAMin: 3, HPAMax: 10, Basis: r.Replicas.Basis}, *r.Replicas)
	for _, basis := range []string{r.Measured.Basis, r.Table.Basis, r.Cost.Basis, r.Hint.Basis, r.Replicas.Basis, r.TailSampling.Basis} {
		assert.NotEmpty(t, basis)
	}
}

func TestAgentRowByMeasuredUse(t *testing.T) {
	in := Input{Role: "agent", Table: DefaultTables["agent"], Cost: DefaultCosts["agent"], Measurement: Measurement{
		Over: time.Minute, Samples: 10, LogRecordsPerSecond: 50, CPUCores: 0.15, RSSBytes: 120 * mi, IdleRSSBytes: 110 * mi,
	}}
	r := Compute(in)
	assert.Equal(t, "Medium", r.Table.Row.Name, "Low's 100m does not cover 0.15 cores")
	assert.Nil(t, r.Replicas)
	assert.Nil(t, r.TailSampling)
	assert.False(t, r.Cost.Measured, "50 items/s is too little to measure a cost")
	assert.Equal(t, DefaultCosts["agent"].CoresPer10k, r.Cost.CoresPer10k)

	in.Measurement.CPUCores = 3
	r = Compute(in)
	assert.True(t, r.Table.Exceeded)
	assert.Equal(t, "High (prod)", r.Table.Row.Name)
	assert.Contains(t, r.Table.Basis, "exceeded")
}

func TestNothingMeasuredFallsBackToTheTable(t *testing.T) {
	r := Compute(Input{Role: "sidecar", Table: DefaultTables["sidecar"], Cost: DefaultCosts["sidecar"],
		Measurement: Measurement{Problem: "no pull Prometheus reader in service::telemetry::metrics"}})
	assert.Equal(t, Resources{Requests: Quantities{"50m", "64Mi"}, Limits: Quantities{"200m", "256Mi"}, Basis: r.Hint.Basis}, r.Hint)
	assert.Contains(t, r.Hint.Basis, "no pull Prometheus reader")
	assert.Contains(t, r.Measured.Basis, "not measured yet")
}

func TestK8sBlockParsesAsResourceRequirements(t *testing.T) {
	r := Compute(gatewayInput())
	for src, want := range map[Source][2]string{SourceHint: {"200m", "896Mi"}, SourceTable: {"1", "4Gi"}} {
		text := K8s(r, src)
		var doc struct {
			Resources corev1.ResourceRequirements `json:"resources"`
			Replicas  int                         `json:"replicas"`
			HPA       struct {
				MinReplicas int `json:"minReplicas"`
				MaxReplicas int `json:"maxReplicas"`
			} `json:"hpa"`
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(text), &doc), text)
		assert.True(t, doc.Resources.Requests.Cpu().Equal(resource.MustParse(want[0])), "%s: %s", src, text)
		assert.True(t, doc.Resources.Limits.Memory().Equal(resource.MustParse(want[1])), "%s: %s", src, text)
		assert.Equal(t, 3, doc.Replicas)
		assert.Equal(t, 10, doc.HPA.MaxReplicas)
	}
}
