package podconfig

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
)

// collectorResolve resolves file the way the built binary does: its own
// providers (env, file, yaml; see the generated main.go) and default scheme,
// reading the process environment.
func collectorResolve(t *testing.T, file string) map[string]any {
	t.Helper()
	r, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"file:" + file},
		ProviderFactories: []confmap.ProviderFactory{envprovider.NewFactory(), fileprovider.NewFactory(), yamlprovider.NewFactory()},
		DefaultScheme:     "env",
	})
	require.NoError(t, err)
	conf, err := r.Resolve(context.Background())
	require.NoError(t, err)
	return conf.ToStringMap()
}

// Resolve must read a config exactly as the collector does, with the
// collector's env provider as the oracle: every shipped config, under an
// environment like a pod's and under an empty one.
func TestResolveAgreesWithTheCollectorsEnvProvider(t *testing.T) {
	envs := map[string]map[string]string{
		"empty": {},
		"pod": {
			"POD_IP":              "10.1.2.3",
			"GATEWAY_RESOLVER":    "{k8s: {service: otel-gateway-headless.observability, ports: [4317]}}",
			"GATEWAY_SELF":        "10.1.2.3:4317",
			"DECISION_WAIT":       "7s",
			"K8S_NODE_NAME":       "node-a",
			"K8S_PASSTHROUGH":     "false",
			"MEMORY_LIMIT_MIB":    "180",
			"NUM_TRACES":          "", // set but empty
			"SAMPLING_PERCENTAGE": "0.5",
		},
	}
	configs, err := filepath.Glob("../../configs/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, configs)
	for envName, env := range envs {
		for _, file := range configs {
			t.Run(envName+"/"+filepath.Base(file), func(t *testing.T) {
				for _, name := range []string{"POD_IP", "GATEWAY_RESOLVER", "GATEWAY_SELF", "DECISION_WAIT", "K8S_NODE_NAME", "K8S_PASSTHROUGH", "MEMORY_LIMIT_MIB", "NUM_TRACES", "SAMPLING_PERCENTAGE"} {
					t.Setenv(name, "") // restored after the test
					require.NoError(t, os.Unsetenv(name))
				}
				for k, v := range env {
					t.Setenv(k, v)
				}
				text, err := os.ReadFile(file)
				require.NoError(t, err)
				got, err := Resolve(string(text), env)
				require.NoError(t, err)
				assert.Equal(t, collectorResolve(t, file), got.ToStringMap())
			})
		}
	}
}

func TestResolveParsesAWholeValueAsYAML(t *testing.T) {
	text := "exporters:\n  lb:\n    resolver: \"${env:RESOLVER:-static:\\n  hostnames: [a:1]}\"\n    self: ${env:IP}:4317\n    plain: ${IP}\n"
	got, err := Resolve(text, map[string]string{"RESOLVER": "{k8s: {service: gw.obs, ports: [4317]}}", "IP": "10.0.0.1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k8s": map[string]any{"service": "gw.obs", "ports": []any{4317}}}, got.Get("exporters::lb::resolver"))
	assert.Equal(t, "10.0.0.1:4317", got.Get("exporters::lb::self"))
	assert.Equal(t, "10.0.0.1", got.Get("exporters::lb::plain"), "env is the default scheme")

	def, err := Resolve(text, map[string]string{"IP": "10.0.0.1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"static": map[string]any{"hostnames": []any{"a:1"}}}, def.Get("exporters::lb::resolver"))
}

func TestResolveListsVariablesReadUnsetWithoutDefault(t *testing.T) {
	got, err := Resolve("a: ${env:SET}\nb: ${env:MISSING}\nc: ${env:DEFAULTED:-x}\nd: ${MISSING_TOO}\n", map[string]string{"SET": "1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"MISSING", "MISSING_TOO"}, got.Unset)
	assert.Nil(t, got.Get("b"))

	_, err = Resolve("a: ${env:1BAD}\n", nil)
	assert.ErrorContains(t, err, `environment variable "1BAD" has invalid name`)
}

func TestComponentDecodesOnTheFactorysDefaults(t *testing.T) {
	got, err := Resolve("exporters:\n  otlp_grpc/a:\n    endpoint: gw:4317\n  otlp_grpc/b:\n    endpoint: gw:4317\n    timeout: ${env:T}\n  otlp_grpc/c:\n    endpoint: gw:4317\n    timout: 3s\n", map[string]string{"T": "12s"})
	require.NoError(t, err)
	f := otlpexporter.NewFactory()

	a, err := got.Component("exporters::otlp_grpc/a", f)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, a.(*otlpexporter.Config).TimeoutConfig.Timeout, "the exporter's default timeout")
	b, err := got.Component("exporters::otlp_grpc/b", f)
	require.NoError(t, err)
	assert.Equal(t, 12*time.Second, b.(*otlpexporter.Config).TimeoutConfig.Timeout)

	_, err = got.Component("exporters::otlp_grpc/c", f)
	assert.ErrorContains(t, err, "timout", "a misspelt field is an error, as at the collector's startup")
	_, err = got.Component("exporters::otlp_grpc/d", f)
	assert.ErrorContains(t, err, "exporters::otlp_grpc/d: not in the config")

	var partial struct {
		Timeout time.Duration `mapstructure:"timeout"`
	}
	require.NoError(t, got.Decode("exporters::otlp_grpc/b", &partial))
	assert.Equal(t, 12*time.Second, partial.Timeout)
}
