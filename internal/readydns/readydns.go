// Package readydns answers DNS queries for a service with the addresses of
// its ready replicas only: the compose twin of a Kubernetes headless
// Service, whose DNS lists the pods that are ready (publishNotReadyAddresses
// false). Docker's own DNS lists a container until it has exited, so a
// gateway that is stopping — draining its traces and its disk queue — would
// still get new spans from the agents; behind this answer it leaves the
// agents' and the peers' rings as soon as its health check stops answering
// 200, as a terminating pod leaves its EndpointSlice.
package readydns // import "github.com/otelcol-tiered/otelcol-tiered/internal/readydns"

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Members is the set of ready addresses, safe for concurrent use.
type Members struct {
	mu    sync.RWMutex
	addrs []netip.Addr
}

// Set replaces the ready addresses; it reports whether they changed.
func (m *Members) Set(addrs []netip.Addr) bool {
	addrs = slices.Clone(addrs)
	slices.SortFunc(addrs, netip.Addr.Compare)
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Equal(addrs, m.addrs) {
		return false
	}
	m.addrs = addrs
	return true
}

// Addrs returns the ready addresses, sorted.
func (m *Members) Addrs() []netip.Addr {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.addrs)
}

// Poller finds the replicas (Lookup) and keeps those whose health check
// answers 200 (Ready) in Members, every Interval.
type Poller struct {
	Lookup   func(context.Context) ([]netip.Addr, error)
	Ready    func(context.Context, netip.Addr) bool
	Interval time.Duration
	Members  *Members
	// OnChange, when set, is told the new ready set (logging).
	OnChange func([]netip.Addr)
}

// Poll runs until ctx ends. A failed lookup keeps the last answer: a
// moment without Docker's DNS must not empty the ring.
func (p *Poller) Poll(ctx context.Context) {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		p.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once checks every replica once, concurrently, each within the interval.
func (p *Poller) Once(ctx context.Context) {
	all, err := p.Lookup(ctx)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.Interval)
	defer cancel()
	ready := make([]bool, len(all))
	var wg sync.WaitGroup
	for i, a := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready[i] = p.Ready(ctx, a)
		}()
	}
	wg.Wait()
	var up []netip.Addr
	for i, a := range all {
		if ready[i] {
			up = append(up, a)
		}
	}
	if p.Members.Set(up) && p.OnChange != nil {
		p.OnChange(p.Members.Addrs())
	}
}

// LookupHost returns a Lookup of host's IPv4 addresses through r.
func LookupHost(r *net.Resolver, host string) func(context.Context) ([]netip.Addr, error) {
	return func(ctx context.Context) ([]netip.Addr, error) {
		ips, err := r.LookupNetIP(ctx, "ip4", host)
		if err != nil {
			if dnsErr := (*net.DNSError)(nil); errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil, nil // no replica at all
			}
			return nil, err
		}
		for i := range ips {
			ips[i] = ips[i].Unmap()
		}
		return ips, nil
	}
}

// HTTPReady returns a Ready that asks http://addr:port/path and takes a 200
// as ready.
func HTTPReady(client *http.Client, port, path string) func(context.Context, netip.Addr) bool {
	return func(ctx context.Context, a netip.Addr) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(a.String(), port)+path, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// Handler answers A queries for name (case-insensitive, with or without the
// final dot) with the ready addresses, TTL 0 so that resolvers ask again;
// AAAA and other types of name get an empty answer, other names NXDOMAIN.
func Handler(name string, m *Members) dns.Handler {
	name = dns.Fqdn(strings.ToLower(name))
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(req)
		resp.Authoritative = true
		if len(req.Question) != 1 || strings.ToLower(req.Question[0].Name) != name {
			resp.SetRcode(req, dns.RcodeNameError)
			_ = w.WriteMsg(resp)
			return
		}
		q := req.Question[0]
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			for _, a := range m.Addrs() {
				resp.Answer = append(resp.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
					A:   a.AsSlice(),
				})
			}
		}
		_ = w.WriteMsg(resp)
	})
}
