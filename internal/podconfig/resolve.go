package podconfig // import "github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
)

// Resolved is a collector config after the collector's startup resolution.
type Resolved struct {
	*confmap.Conf
	// Unset lists the variables the config reads without a default that the
	// environment does not set: the collector only warns about them.
	Unset []string
}

// configURI is where Resolve serves the config text from; the file provider
// is an in-memory stand-in for the collector's, which reads the file and
// parses it the same way.
const configURI = "file:/config.yaml"

// Resolve resolves config text the way the collector does at startup when
// env is its whole environment: the providers the binary is built with
// (env, file, yaml), env as the default scheme of ${NAME}, every value
// retrieved parsed as YAML. Only the env provider differs from the
// binary's: it reads env instead of the process environment (a test checks
// the two agree).
func Resolve(text string, env map[string]string) (*Resolved, error) {
	ep := &envProvider{env: env}
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs: []string{configURI},
		ProviderFactories: []confmap.ProviderFactory{
			confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return ep }),
			confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return textProvider(text) }),
			yamlprovider.NewFactory(),
		},
		DefaultScheme: "env",
	})
	if err != nil {
		return nil, err
	}
	conf, err := resolver.Resolve(context.Background())
	if err != nil {
		return nil, err
	}
	return &Resolved{Conf: conf, Unset: ep.unsetNames()}, nil
}

// Component decodes the config of component id (e.g.
// "exporters::otlp_grpc/backend") as the collector does: the factory's
// default config with the resolved values on top, then validated.
func (r *Resolved) Component(key string, factory component.Factory) (component.Config, error) {
	if !r.IsSet(key) {
		return nil, fmt.Errorf("%s: not in the config", key)
	}
	sub, err := r.Sub(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	cfg := factory.CreateDefaultConfig()
	if err := sub.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := confmap.Validate(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return cfg, nil
}

// Decode decodes the part of the config under key into v, a struct holding
// only the fields a check needs; the other fields are ignored.
func (r *Resolved) Decode(key string, v any) error {
	if !r.IsSet(key) {
		return fmt.Errorf("%s: not in the config", key)
	}
	sub, err := r.Sub(key)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if err := sub.Unmarshal(v, confmap.WithIgnoreUnused()); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

type textProvider string

func (t textProvider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	if uri != configURI {
		return nil, fmt.Errorf("%q: the pod's config is the only file here", uri)
	}
	return confmap.NewRetrievedFromYAML([]byte(t))
}

func (textProvider) Scheme() string                 { return "file" }
func (textProvider) Shutdown(context.Context) error { return nil }

// envVarName is the env provider's rule for a variable name.
var envVarName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// envProvider is the collector's env provider (confmap/provider/envprovider
// at the pinned release) reading a map instead of the process environment.
type envProvider struct {
	env   map[string]string
	mu    sync.Mutex
	unset map[string]bool
}

func (p *envProvider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	rest, ok := strings.CutPrefix(uri, "env:")
	if !ok {
		return nil, fmt.Errorf("%q uri is not supported by %q provider", uri, "env")
	}
	name, def, hasDefault := strings.Cut(rest, ":-")
	if !envVarName.MatchString(name) {
		return nil, fmt.Errorf("environment variable %q has invalid name: must match regex %s", name, envVarName)
	}
	val, exists := p.env[name]
	if !exists {
		if hasDefault {
			if def == "" {
				return confmap.NewRetrieved("")
			}
			val = def
		} else {
			p.mu.Lock()
			if p.unset == nil {
				p.unset = map[string]bool{}
			}
			p.unset[name] = true
			p.mu.Unlock()
		}
	}
	return confmap.NewRetrievedFromYAML([]byte(val))
}

func (*envProvider) Scheme() string                 { return "env" }
func (*envProvider) Shutdown(context.Context) error { return nil }

func (p *envProvider) unsetNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for n := range p.unset {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
