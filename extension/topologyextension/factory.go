package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
)

// defaultEndpoint is loopback only; the shipped configs bind the pod IP.
const defaultEndpoint = "localhost:13134"

// NewFactory returns the factory of the topology extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	return &Config{
		ServerConfig: server,
		Window:       sizing.DefaultWindow,
		Sizing:       SizingConfig{LimitFactor: sizing.DefaultLimitFactor},
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newTopology(set, cfg.(*Config))
}
