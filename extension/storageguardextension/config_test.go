package storageguardextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

func TestConfigNamesTheWrongField(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"storage missing", map[string]any{}, "storage: required"},
		{"storage is a guard", map[string]any{"storage": "storageguard/other"}, "storage: must name the storage extension to guard"},
		{"log_interval zero", map[string]any{"storage": "file_storage", "log_interval": "0s"}, "log_interval: must be positive"},
		{"log_interval without unit", map[string]any{"storage": "file_storage", "log_interval": "10"}, "log_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			err := confmap.NewFromStringMap(tc.raw).Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, 10*time.Second, cfg.LogInterval)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"storage": "file_storage"}).Unmarshal(cfg))
	assert.Equal(t, component.MustNewID("file_storage"), cfg.Storage)
	assert.NoError(t, confmap.Validate(cfg))
}
