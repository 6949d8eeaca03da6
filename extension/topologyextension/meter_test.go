package topologyextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Rates cover the last window only: a burst before it is forgotten.
func TestMeterRatesCoverTheWindow(t *testing.T) {
	m := newMeter("http://x/metrics", 20*time.Second)
	require.Equal(t, 1666666666*time.Nanosecond, m.interval)
	t0 := time.Unix(1_700_000_000, 0)
	spans, cpu := 0.0, 0.0
	for i := 0; i <= 60; i++ {
		rate := 1000.0
		if i < 30 {
			rate = 50_000 // the burst, more than 20 s ago at the end
		}
		spans += rate
		cpu += 0.2
		m.add(sample{at: t0.Add(time.Duration(i) * time.Second), spans: spans, cpu: cpu, rss: float64(200 - i)})
	}
	got := m.measurement()
	assert.Equal(t, 20*time.Second, got.Over)
	assert.Equal(t, 21, got.Samples)
	assert.InDelta(t, 1000, got.SpansPerSecond, 1e-9)
	assert.InDelta(t, 0.2, got.CPUCores, 1e-9)
	assert.Equal(t, 140.0, got.RSSBytes)
	assert.Equal(t, 140.0, got.IdleRSSBytes, "the lowest RSS seen")
}

func TestMeterNeedsTwoSamples(t *testing.T) {
	m := newMeter("http://127.0.60.9:1/metrics", time.Minute)
	got := m.measurement()
	assert.Equal(t, "0 of the 2 samples needed from http://127.0.60.9:1/metrics", got.Problem)
}
