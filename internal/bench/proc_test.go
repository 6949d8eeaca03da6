package bench

import (
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPUWithSpacesAndParensInTheName(t *testing.T) {
	stat := []byte("4242 (otel col (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 9 0 100 2000000 3000 18446744073709551615\n")
	cpu, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.InDelta(t, 18.01, cpu, 1e-9)
	_, err = parseStatCPU([]byte("garbage"))
	assert.Error(t, err)
}

func TestParseStatusAndCPULine(t *testing.T) {
	status := []byte("Name:\totelcol\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")
	assert.EqualValues(t, 100<<20, parseStatusKB(status, "VmRSS"))
	assert.EqualValues(t, 200<<20, parseStatusKB(status, "VmHWM"))
	stat := []byte("cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 300 10 5 5 30 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\n")
	c, err := parseCPULine(stat, 0)
	require.NoError(t, err)
	assert.InDelta(t, 1.6, c.Busy, 1e-9)
	assert.InDelta(t, 3.1, c.Idle, 1e-9)
	assert.InDelta(t, 0.3, c.Steal, 1e-9)
	_, err = parseCPULine(stat, 7)
	assert.ErrorContains(t, err, "no cpu7 line")
}

func TestReadUsageOfThisProcess(t *testing.T) {
	u, err := readUsage(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, u.RSS)
	assert.GreaterOrEqual(t, u.HWM, u.RSS)
	assert.GreaterOrEqual(t, u.CPU, 0.0)
}

func TestMedianAndFit(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.True(t, math.IsNaN(median(nil)))
	slope, icpt := linearFit([]float64{1, 2, 3, 4}, []float64{12, 22, 32, 42})
	assert.InDelta(t, 10, slope, 1e-9)
	assert.InDelta(t, 2, icpt, 1e-9)
	assert.Zero(t, ratio(1, 0))
	assert.Zero(t, finite(math.Inf(1)))
}
