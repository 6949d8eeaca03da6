package sizing

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/bench"
)

// The benchmark row each role's default cost is taken from: the shipped
// config of the tier (the gateway as shipped samples 1 %).
var costRows = map[string]string{"agent": "agent", "sidecar": "sidecar", "gateway": "gateway-sampled"}

// TestDefaultCostsAreTheMeasuredTable keeps defaults.go in step with the
// committed benchmark results: after `make bench`, copy its figures.
func TestDefaultCostsAreTheMeasuredTable(t *testing.T) {
	m, err := bench.Load("../../bench/results/results.json")
	require.NoError(t, err)

	for role, name := range costRows {
		row := m.Row(name)
		require.NotNil(t, row, "bench results have no measured row %s", name)
		cost := DefaultCosts[role]
		cores := math.Max(row.Sizing.CoresPer10k, row.Sizing.CoresPer10kAtFixed)
		assert.InDelta(t, cores, cost.CoresPer10k, 0.0005, "%s: cores per 10k (the larger of row %s's two)", role, name)
		assert.InDelta(t, row.Sizing.MemoryPer10kMiB, cost.MemoryBytesPer10k/(1<<20), 0.5, "%s: MiB per 10k (row %s)", role, name)
		assert.InDelta(t, row.Sizing.BaseMemoryMiB, cost.IdleMemoryBytes/(1<<20), 0.5, "%s: idle MiB (row %s)", role, name)
	}

	require.NotNil(t, m.Memory, "bench results have no tail-sampling memory measurement")
	require.NotEmpty(t, m.Memory.Phases)
	require.Positive(t, m.Memory.SpansPerTrace)
	held := m.Memory.Phases[0] // traces awaiting their decision, spans held
	assert.InDelta(t, held.HeapPerTrace/float64(m.Memory.SpansPerTrace), float64(DefaultTailSamplingBytesPerSpan), 0.5,
		"live heap bytes per held span (%s)", held.Name)
}
