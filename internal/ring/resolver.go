package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
)

// ResolverConfig is the `resolver` block of contrib's load-balancing
// exporter: exactly one of static, dns and k8s. An agent's block can be
// pasted as it is.
type ResolverConfig struct {
	Static configoptional.Optional[StaticConfig] `mapstructure:"static"`
	DNS    configoptional.Optional[DNSConfig]    `mapstructure:"dns"`
	K8s    configoptional.Optional[K8sConfig]    `mapstructure:"k8s"`
	_      struct{}
}

// StaticConfig lists the members.
type StaticConfig struct {
	Hostnames []string `mapstructure:"hostnames"`
	_         struct{}
}

// DNSConfig resolves a hostname to the members' IPs.
type DNSConfig struct {
	Hostname string        `mapstructure:"hostname"`
	Port     string        `mapstructure:"port"`
	Interval time.Duration `mapstructure:"interval"`
	Timeout  time.Duration `mapstructure:"timeout"`
	_        struct{}
}

// K8sConfig watches the EndpointSlices of a Service.
type K8sConfig struct {
	Service         string        `mapstructure:"service"`
	Ports           []int32       `mapstructure:"ports"`
	Timeout         time.Duration `mapstructure:"timeout"`
	ReturnHostnames bool          `mapstructure:"return_hostnames"`
	_               struct{}
}

// Check checks that exactly one resolver is set and that it is usable; each
// error names its field from the resolver block (resolver::...). It is not
// named Validate: the collector would call it too, walking the config, and
// print every error twice (once with the caller's prefix).
func (c *ResolverConfig) Check() error {
	set := 0
	for _, has := range []bool{c.Static.HasValue(), c.DNS.HasValue(), c.K8s.HasValue()} {
		if has {
			set++
		}
	}
	switch {
	case set == 0:
		return errors.New("resolver: one of static, dns or k8s is required")
	case set > 1:
		return errors.New("resolver: only one of static, dns or k8s may be set")
	}
	switch {
	case c.Static.HasValue():
		return c.Static.Get().validate()
	case c.DNS.HasValue():
		return c.DNS.Get().validate()
	default:
		return c.K8s.Get().validate()
	}
}

// Resolver publishes the member list, sorted, in the form the exporter hashes.
type Resolver interface {
	// Start resolves once and then keeps watching; the first list is
	// published before Start returns when it could be had.
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
	// OnChange registers f, called with each new member list.
	OnChange(f func(members []string))
}

// NewResolver builds the configured resolver. client may be nil (in-cluster
// config is then used for k8s).
func NewResolver(cfg ResolverConfig, logger *zap.Logger, client kubernetes.Interface) (Resolver, error) {
	switch {
	case cfg.Static.HasValue():
		return newStaticResolver(cfg.Static.Get().Hostnames), nil
	case cfg.DNS.HasValue():
		return newDNSResolver(*cfg.DNS.Get(), logger, nil), nil
	case cfg.K8s.HasValue():
		return newK8sResolver(*cfg.K8s.Get(), logger, client)
	}
	return nil, errors.New("resolver: one of static, dns or k8s is required")
}

// publisher keeps the last published list and the callbacks.
type publisher struct {
	mu        sync.Mutex
	members   []string
	published bool
	callbacks []func([]string)
}

func (p *publisher) OnChange(f func([]string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.callbacks = append(p.callbacks, f)
}

// publish sorts members and calls back when the list differs from the last.
func (p *publisher) publish(members []string) {
	sorted := slices.Clone(members)
	slices.Sort(sorted)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.published && slices.Equal(sorted, p.members) {
		return
	}
	p.members, p.published = sorted, true
	for _, f := range p.callbacks {
		f(slices.Clone(sorted))
	}
}
