package topologyextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.MustNewIDWithName(metadata.Type.String(), name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfig(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "gateway", cfg.Role)
	assert.Equal(t, "localhost:13134", cfg.NetAddr.Endpoint)
	assert.Equal(t, time.Minute, cfg.Window)
	assert.False(t, cfg.Strict)
	assert.Nil(t, cfg.Sizing.Table)
	assert.Equal(t, sizing.DefaultLimitFactor, cfg.Sizing.LimitFactor)

	cfg = loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "agent", cfg.Role)
	assert.Equal(t, "10.0.0.9:13134", cfg.NetAddr.Endpoint)
	assert.Equal(t, 30*time.Second, cfg.Window)
	assert.True(t, cfg.Strict)
	assert.Equal(t, 4.0, cfg.Sizing.LimitFactor)
	require.Len(t, cfg.Sizing.Table, 2)
	assert.Equal(t, sizing.Row{Name: "small", MaxItemsPerSecond: 5000, CPURequest: "100m", MemoryRequest: "128Mi", CPULimit: "200m", MemoryLimit: "256Mi"}, cfg.Sizing.Table[0])
	assert.Equal(t, "1", cfg.Sizing.Table[1].CPURequest)
}

func TestInvalidConfigsNameTheField(t *testing.T) {
	for name, want := range map[string][]string{
		"no_role":          {"role: required, one of agent, gateway, sidecar"},
		"unknown_role":     {`role: unknown role "collector", want one of agent, gateway, sidecar`},
		"no_port":          {`endpoint: "10.0.0.1" is not host:port`},
		"bad_port":         {`endpoint: "10.0.0.1:99999": port "99999" is not a number from 1 to 65535`},
		"short_window":     {"window: 1s out of range 5s to 1h0m0s"},
		"bad_table":        {`sizing::table: [0]::cpu_request: "lots" is not a Kubernetes quantity`, "[0]::memory_limit: 512Mi is below memory_request 1Gi"},
		"low_limit_factor": {"sizing::limit_factor: 0.5 would put limits below requests"},
	} {
		t.Run(name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, name))
			require.Error(t, err)
			for _, w := range want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
