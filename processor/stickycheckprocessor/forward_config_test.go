package stickycheckprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestLoadForwardConfig(t *testing.T) {
	cfg := loadConfig(t, "forward")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, ForwardConfig{Enabled: true, Hold: 3 * time.Second, Drain: 8 * time.Second, QueueSize: 20000}, cfg.Forward)

	def := createDefaultConfig().(*Config).Forward
	assert.Equal(t, ForwardConfig{Hold: 2 * time.Second, Drain: 5 * time.Second, QueueSize: 100_000}, def, "off unless enabled")
}

func TestInvalidForwardConfigNamesEachField(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "forward_invalid"))
	require.Error(t, err)
	for _, want := range []string{
		"forward::hold: 11s is longer than grace (10s)",
		"forward::drain: must not be negative, got -1s",
		"forward::queue_size: must be positive, got 0",
	} {
		assert.Contains(t, err.Error(), want)
	}
}
