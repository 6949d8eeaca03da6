package exportguardprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-tiered/otelcol-tiered/processor/exportguardprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestConfigDefaultsDrainOff(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Zero(t, cfg.MaxSpanBytes)
	assert.False(t, cfg.Drain.HasValue(), "drain runs only when configured")
}

func TestConfigGateway(t *testing.T) {
	cfg := loadConfig(t, "gateway")
	require.NoError(t, confmap.Validate(cfg))
	assert.EqualValues(t, 3670016, cfg.MaxSpanBytes)
	d := cfg.Drain.Get()
	require.NotNil(t, d)
	assert.Equal(t, "otlp_grpc/backend", d.Exporter.String())
	assert.Equal(t, 20*time.Second, d.Timeout)
	assert.Equal(t, defaultPollInterval, d.PollInterval, "poll_interval keeps its default")
}

func TestConfigErrorsNameTheField(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "bad"))
	require.Error(t, err)
	for _, field := range []string{"max_span_bytes: -1", "drain::exporter: required", `drain::metrics_endpoint: "nowhere"`, "drain::timeout: 0s"} {
		assert.Contains(t, err.Error(), field)
	}
}

func TestAdmissionConfig(t *testing.T) {
	cfg := loadConfig(t, "admit")
	require.NoError(t, confmap.Validate(cfg))
	a := cfg.Admission.Get()
	require.NotNil(t, a)
	assert.Equal(t, "otlp_grpc/backend", a.Exporter.String())
	assert.Equal(t, defaultHighWater, a.HighWater, "high_water keeps its default")
	assert.Equal(t, defaultAdmissionPollInterval, a.PollInterval)
	assert.Nil(t, loadConfig(t, "gateway").Admission.Get(), "off unless set")

	err := confmap.Validate(loadConfig(t, "badadmit"))
	require.Error(t, err)
	for _, field := range []string{"admission::exporter: required", `admission::metrics_endpoint: "nowhere"`, "admission::high_water: 1.5 must be a share", "admission::poll_interval: 0s"} {
		assert.Contains(t, err.Error(), field)
	}
}
