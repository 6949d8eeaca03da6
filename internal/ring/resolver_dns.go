package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"context"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
)

const (
	defaultDNSInterval = 5 * time.Second
	defaultDNSTimeout  = time.Second
)

// hostLookup is the part of *net.Resolver the DNS resolver uses.
type hostLookup interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

type dnsResolver struct {
	publisher
	cfg    DNSConfig
	lookup hostLookup
	logger *zap.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newDNSResolver(cfg DNSConfig, logger *zap.Logger, lookup hostLookup) *dnsResolver {
	if cfg.Interval <= 0 {
		cfg.Interval = defaultDNSInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultDNSTimeout
	}
	if lookup == nil {
		lookup = net.DefaultResolver
	}
	return &dnsResolver{cfg: cfg, lookup: lookup, logger: logger}
}

func (r *dnsResolver) Start(context.Context) error {
	r.resolve()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ticker := time.NewTicker(r.cfg.Interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				r.resolve()
			}
		}
	}()
	return nil
}

func (r *dnsResolver) Shutdown(context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	return nil
}

// resolve publishes the members as the exporter names them: each IP
// (IPv6 in brackets) plus ":port" only when a port is set. On a failed
// lookup the last list stays, as upstream.
func (r *dnsResolver) resolve() {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	addrs, err := r.lookup.LookupIPAddr(ctx, r.cfg.Hostname)
	if err != nil {
		r.logger.Warn("DNS resolution of the ring's members failed", zap.String("hostname", r.cfg.Hostname), zap.Error(err))
		return
	}
	members := make([]string, 0, len(addrs))
	for _, a := range addrs {
		host := a.IP.String()
		if a.IP.To4() == nil {
			host = "[" + host + "]"
		}
		if r.cfg.Port != "" {
			host += ":" + r.cfg.Port
		}
		members = append(members, host)
	}
	r.publish(members)
}
