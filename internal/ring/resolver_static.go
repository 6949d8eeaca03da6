package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import "context"

type staticResolver struct {
	publisher
	hostnames []string
}

func newStaticResolver(hostnames []string) *staticResolver {
	return &staticResolver{hostnames: hostnames}
}

func (r *staticResolver) Start(context.Context) error {
	r.publish(r.hostnames)
	return nil
}

func (*staticResolver) Shutdown(context.Context) error { return nil }
