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
	assert.False(t, cfg.Audit.HasValue(), "the audit is off unless its section is present")
}

func TestLoadAuditConfig(t *testing.T) {
	cfg := loadConfig(t, "audit")
	require.NoError(t, confmap.Validate(cfg))
	require.True(t, cfg.Audit.HasValue())
	a := cfg.Audit.Get()
	assert.Equal(t, 45*time.Second, a.Window)
	assert.Equal(t, 200_000, a.MaxTraces)
	assert.Equal(t, 14319, a.Peer.Port)
	assert.Equal(t, "10.0.0.1:14319", a.Peer.Server.NetAddr.Endpoint)
	assert.EqualValues(t, 524288, a.Peer.Server.MaxRequestBodySize)
	assert.Equal(t, "bearertokenauth", a.Peer.Server.Auth.Get().Config.AuthenticatorID.String())
	assert.Equal(t, "/etc/otelcol/peer-ca.crt", a.Peer.Client.TLS.CAFile)
	assert.Equal(t, "/etc/otelcol/peer.crt", a.Peer.Server.TLS.Get().CertFile)
	assert.Equal(t, "https", a.Peer.peerScheme(), "the server has tls: so have the peers")
	assert.Equal(t, 2*time.Second, a.Peer.Client.Timeout)
	assert.Equal(t, 500*time.Millisecond, a.Peer.FlushInterval)
	assert.Equal(t, 5000, a.Peer.QueueSize)

	// An empty section turns the audit on with the defaults.
	cfg = loadConfig(t, "audit_defaults")
	require.NoError(t, confmap.Validate(cfg))
	require.True(t, cfg.Audit.HasValue())
	a = cfg.Audit.Get()
	assert.Equal(t, defaultWindow, a.Window)
	assert.Equal(t, defaultMaxTraces, a.MaxTraces)
	assert.Equal(t, defaultPeerPort, a.Peer.Port)
	assert.Empty(t, a.Peer.Server.NetAddr.Endpoint, "derived from self at start")
	assert.EqualValues(t, defaultMaxRequestBodySize, a.Peer.Server.MaxRequestBodySize)
	assert.Equal(t, "http", a.Peer.peerScheme())
	assert.Equal(t, defaultPeerTimeout, a.Peer.Client.Timeout)
	assert.Equal(t, defaultFlushInterval, a.Peer.FlushInterval)
	assert.Equal(t, defaultQueueSize, a.Peer.QueueSize)
}

func TestInvalidAuditConfigNamesEachField(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "audit_invalid"))
	require.Error(t, err)
	for _, want := range []string{
		"audit::window: must be positive, got 0s",
		"audit::max_traces: must be between 1 and 16777216 (682.7 MiB of table), got 0",
		"audit::peer::port: must be between 1 and 65535, got 70000",
		`audit::peer::client::endpoint: must be empty, got "http://10.0.0.2:4319"`,
		"audit::peer::flush_interval: must be positive, got 0s",
		"audit::peer::queue_size: must be positive, got 0",
		"audit::peer::client::tls: certificates are set but audit::peer::server has no tls",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// A whole number written as a float (2e5, or an env var's value) is taken.
func TestMaxTracesWrittenAsAFloat(t *testing.T) {
	cfg := loadConfig(t, "max_traces_float_whole")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 200_000, cfg.Audit.Get().MaxTraces)
}

func TestInvalidLimitsNameEachField(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "bad_limits"))
	require.Error(t, err)
	for _, want := range []string{
		"audit::peer::max_concurrent_requests: must be positive, got 0",
		"audit::peer::max_concurrent_requests_per_host: must be between 1 and max_concurrent_requests (0), got 5",
		"audit::peer::server: read_timeout and read_header_timeout must not be negative, got -1s and 5s",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestPeerAddressTakesTheMembersHost(t *testing.T) {
	for member, want := range map[string]string{
		"10.0.0.1:4317":  "10.0.0.1:4319",
		"10.0.0.1":       "10.0.0.1:4319",
		"[fd00::1]:4317": "[fd00::1]:4319",
		"[fd00::1]":      "[fd00::1]:4319",
		"otel-gateway-0.otel-gateway-headless.observability:4317": "otel-gateway-0.otel-gateway-headless.observability:4319",
	} {
		assert.Equal(t, want, peerAddress(member, 4319), member)
	}
}

func TestInvalidConfigsNameTheField(t *testing.T) {
	for name, want := range map[string]string{
		"missing_self":        "self: required",
		"two_resolvers":       "resolver: only one of static, dns or k8s may be set",
		"empty_static":        "resolver::static::hostnames: must list at least one member",
		"unknown_ring":        `ring: unknown ring generation "v0.100", want one of v0.157, v0.130, v0.129`,
		"unknown_action":      `action: unknown action "reroute", want pass, tag or drop`,
		"window_no_unit":      "audit::window: 30ns is below the minimum 100ms: the unit is missing (a bare number is nanoseconds), write e.g. 30s",
		"grace_no_unit":       "grace: 30ns is below the minimum 1ms: the unit is missing (a bare number is nanoseconds), write e.g. 30s",
		"max_traces_huge":     "audit::max_traces: must be between 1 and 16777216 (682.7 MiB of table), got 1e+20",
		"max_traces_fraction": "audit::max_traces: 1.5 is not a whole number of traces",
		"max_traces_2_28":     "audit::max_traces: must be between 1 and 16777216 (682.7 MiB of table), got 268435456",
		"window_below_grace":  "audit::window: 10s is shorter than grace 30s",
		"peer_port_is_otlp":   "audit::peer::port: 4317 is the port of self (10.0.0.1:4317), the OTLP port the agents send spans to",
		"bad_limits":          "audit::peer::max_concurrent_requests: must be positive, got 0",
	} {
		t.Run(name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, name))
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
