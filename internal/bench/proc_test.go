package bench

import (
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatWithSpacesAndParensInTheName(t *testing.T) {
	stat := []byte("4242 (otel col (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 9 0 100 2000000 3000 18446744073709551615\n")
	u, err := parseStat(stat)
	require.NoError(t, err)
	assert.InDelta(t, 18.01, u.CPU, 1e-9)
	assert.InDelta(t, 12.34, u.User, 1e-9)
	assert.InDelta(t, 5.67, u.Sys, 1e-9)
	assert.EqualValues(t, 1000, u.MinorFaults)
	_, err = parseStat([]byte("garbage"))
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

func TestLastGCCycleReadsTheGCTraceLines(t *testing.T) {
	log := []byte("2026-12-02T08:00:00Z\tinfo\tstarted\n" +
		"gc 1 @0.012s 2%: 0.010+1.2+0.003 ms clock, 0.010+0/0.4/1.1+0.003 ms cpu, 4->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 1 P\n" +
		"gc 12 @41.9s 3%: 0.02+220+0.01 ms clock, 0.02+0/110/220+0.01 ms cpu, 1500->1530->310 MB, 1520 MB goal, 0 MB stacks, 0 MB globals, 1 P\n" +
		"gc logger line that is not a cycle\n")
	assert.Equal(t, 12, lastGCCycle(log))
	assert.Zero(t, lastGCCycle([]byte("no cycles yet\n")))
}
