package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.uber.org/zap"
)

// Load reads a configuration the way the collector's --config does: the
// locations (file paths, or file:, env: and yaml: URIs) merged in order, and
// ${env:NAME}, ${env:NAME:-default} and ${NAME} expanded from this process's
// environment, with the collector's own providers. logger receives the env
// provider's warnings (an unset variable without a default).
func Load(ctx context.Context, locations []string, logger *zap.Logger) (*Config, error) {
	if len(locations) == 0 {
		return nil, fmt.Errorf("no configuration given")
	}
	uris := make([]string, len(locations))
	for i, l := range locations {
		uris[i] = l
		if !hasScheme(l) {
			uris[i] = "file:" + l
		}
	}
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              uris,
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory(), yamlprovider.NewFactory()},
		DefaultScheme:     "env",
		ProviderSettings:  confmap.ProviderSettings{Logger: logger},
	})
	if err != nil {
		return nil, err
	}
	conf, err := resolver.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	_ = resolver.Shutdown(ctx)
	return Parse(conf.ToStringMap())
}

// hasScheme reports whether l is a URI of a provider the collector knows
// ("file:", "env:", "yaml:") rather than a path.
func hasScheme(l string) bool {
	for _, s := range []string{"file:", "env:", "yaml:"} {
		if strings.HasPrefix(l, s) {
			return true
		}
	}
	return false
}
