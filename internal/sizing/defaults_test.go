package sizing

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// measured is the part of bench/results/results.json (written by `make
// bench`) that the default costs are taken from.
type measured struct {
	Rows []struct {
		Name     string `json:"name"`
		Measured bool   `json:"measured"`
		Sizing   struct {
			CoresPer10k        float64 `json:"cores_per_10k_spans_per_second"`
			CoresPer10kAtFixed float64 `json:"cores_per_10k_spans_per_second_at_fixed_rate"`
			MemoryPer10kMiB    float64 `json:"memory_mib_per_10k_spans_per_second"`
			BaseMemoryMiB      float64 `json:"base_memory_mib"`
		} `json:"sizing"`
	} `json:"rows"`
	Memory struct {
		SpansPerTrace int `json:"spans_per_trace"`
		Phases        []struct {
			Name         string  `json:"name"`
			HeapPerTrace float64 `json:"live_heap_bytes_per_trace"`
		} `json:"phases"`
	} `json:"memory"`
}

// The benchmark row each role's default cost is taken from: the shipped
// config of the tier (the gateway as shipped samples 1 %).
var costRows = map[string]string{"agent": "agent", "sidecar": "sidecar", "gateway": "gateway-sampled"}

// TestDefaultCostsAreTheMeasuredTable keeps defaults.go in step with the
// committed benchmark results: after `make bench`, copy its figures.
func TestDefaultCostsAreTheMeasuredTable(t *testing.T) {
	raw, err := os.ReadFile("../../bench/results/results.json")
	require.NoError(t, err)
	var m measured
	require.NoError(t, json.Unmarshal(raw, &m))

	for role, name := range costRows {
		found := false
		for _, row := range m.Rows {
			if row.Name != name {
				continue
			}
			found = true
			require.True(t, row.Measured, "bench row %s was not measured", name)
			cost := DefaultCosts[role]
			cores := math.Max(row.Sizing.CoresPer10k, row.Sizing.CoresPer10kAtFixed)
			assert.InDelta(t, cores, cost.CoresPer10k, 0.0005, "%s: cores per 10k (the larger of row %s's two)", role, name)
			assert.InDelta(t, row.Sizing.MemoryPer10kMiB, cost.MemoryBytesPer10k/(1<<20), 0.5, "%s: MiB per 10k (row %s)", role, name)
			assert.InDelta(t, row.Sizing.BaseMemoryMiB, cost.IdleMemoryBytes/(1<<20), 0.5, "%s: idle MiB (row %s)", role, name)
		}
		assert.True(t, found, "bench results have no row %s", name)
	}

	require.NotEmpty(t, m.Memory.Phases, "bench results have no tail-sampling memory measurement")
	require.Positive(t, m.Memory.SpansPerTrace)
	held := m.Memory.Phases[0] // traces awaiting their decision, spans held
	assert.InDelta(t, held.HeapPerTrace/float64(m.Memory.SpansPerTrace), float64(DefaultTailSamplingBytesPerSpan), 0.5,
		"live heap bytes per held span (%s)", held.Name)
}
