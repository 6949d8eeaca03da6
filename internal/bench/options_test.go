package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultOptionsAreTheIssuesValues(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	assert.Equal(t, 30*time.Second, o.Duration)
	assert.Equal(t, 20_000.0, o.FixedRate)
	assert.True(t, o.Pin)
	assert.NotEqual(t, o.CollectorCPU, o.LoadCPU)
}

func TestOptionsValidateNamesEachField(t *testing.T) {
	o := DefaultOptions()
	o.Net = "10.0.0"
	o.LoadCPU = o.CollectorCPU
	o.Duration = 0
	o.FixedRate = -1
	o.Reps = 0
	o.RatioProfile = -2
	o.RatioWarmup = 0
	o.Only = []string{"gatway"}
	o.Skip = []string{"everything"}
	err := o.Validate()
	for _, want := range []string{
		`net: "10.0.0" is not the prefix of an IPv4 loopback network`,
		"collector-cpu, load-cpu: both 0",
		"duration: 0s is shorter than a second",
		"rate: must be positive (got -1)",
		"reps: must be at least 1 (got 0)",
		"ratio-profile: must not be negative (got -2)",
		"ratio-warmup: must be within (0, 4] windows (got 0)",
		`only: no configuration "gatway"`,
		`skip: "everything" is not one of table, ratios, memory, profile, micro`,
	} {
		assert.ErrorContains(t, err, want)
	}
}
