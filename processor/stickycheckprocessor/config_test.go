package stickycheckprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	t.Setenv("POD_IP", "10.0.0.9")
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
	assert.Equal(t, "10.0.0.1:4317", cfg.Self)
	assert.Equal(t, string(ring.Current), cfg.Ring)
	assert.Equal(t, ActionPass, cfg.Action)
	assert.Equal(t, defaultGrace, cfg.Grace)
	assert.Equal(t, []string{"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"}, cfg.Resolver.Static.Get().Hostnames)

	cfg = loadConfig(t, "dns")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, ActionTag, cfg.Action)
	assert.Equal(t, 10*time.Second, cfg.Grace)
	assert.Equal(t, "v0.130", cfg.Ring)
	assert.Equal(t, "4317", cfg.Resolver.DNS.Get().Port)

	cfg = loadConfig(t, "k8s")
	require.NoError(t, confmap.Validate(cfg))
	assert.True(t, cfg.Resolver.K8s.Get().ReturnHostnames)
	assert.Equal(t, ActionDrop, cfg.Action)
}

func TestInvalidConfigsNameTheField(t *testing.T) {
	for name, want := range map[string]string{
		"missing_self":   "self: required",
		"two_resolvers":  "resolver: only one of static, dns or k8s may be set",
		"empty_static":   "resolver::static::hostnames: must list at least one member",
		"unknown_ring":   `ring: unknown ring generation "v0.100", want one of v0.157, v0.130, v0.129`,
		"unknown_action": `action: unknown action "reroute", want pass, tag or drop`,
	} {
		t.Run(name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, name))
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
