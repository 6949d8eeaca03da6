package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension/internal/metadata"
)

// NewFactory returns the factory of the topology extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config { return &Config{} }

func create(context.Context, extension.Settings, component.Config) (extension.Extension, error) {
	return &topologyExtension{}, nil
}

type topologyExtension struct{}

func (*topologyExtension) Start(context.Context, component.Host) error { return nil }
func (*topologyExtension) Shutdown(context.Context) error              { return nil }
