package loadgen

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPacerSpacesSlotsAndCatchesUpByAtMostTheBurst(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := newPacer(10*time.Millisecond, t0)
	p.now = func() time.Time { return now }

	assert.Equal(t, t0, p.slot())
	assert.Equal(t, t0.Add(10*time.Millisecond), p.slot())
	assert.Equal(t, t0.Add(20*time.Millisecond), p.slot())

	// The senders stalled for five seconds: the slots resume a second (the
	// burst) in the past, not five — at most 100 requests are made up.
	now = t0.Add(5 * time.Second)
	first := p.slot()
	assert.Equal(t, now.Add(-time.Second), first)
	late := 1
	for p.slot().Before(now) {
		late++
	}
	assert.Equal(t, 100, late)
}

func TestHistogramQuantilesWithinNinePercent(t *testing.T) {
	var h histogram
	for us := 1; us <= 100_000; us++ {
		h.observe(time.Duration(us) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := q * 100 // ms
		got := h.quantile(q)
		assert.InEpsilonf(t, want, got, 0.09, "q%.2f", q)
		assert.GreaterOrEqualf(t, got, want, "q%.2f is an upper bound", q)
	}
	assert.InDelta(t, 100.0, h.quantile(1), 0.001, "the top is the maximum")
	var empty histogram
	assert.True(t, math.IsNaN(empty.quantile(0.5)))
}
