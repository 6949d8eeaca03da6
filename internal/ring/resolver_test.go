package ring

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"
	"golang.org/x/net/dns/dnsmessage"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func init() {
	// client-go's fake clientset sends no bookmark events, which the
	// WatchListClient feature waits for (kubernetes/kubernetes#129408).
	_ = os.Setenv("KUBE_FEATURE_WatchListClient", "false")
}

// lists collects what a resolver publishes.
type lists struct {
	mu  sync.Mutex
	got [][]string
}

func (l *lists) add(m []string) { l.mu.Lock(); l.got = append(l.got, m); l.mu.Unlock() }

func (l *lists) waitFor(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		var last []string
		if n := len(l.got); n > 0 {
			last = l.got[n-1]
		}
		l.mu.Unlock()
		if assert.ObjectsAreEqual(want, last) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("resolver published %v, want %v", last, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResolverConfigValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		block map[string]any
		err   string
	}{
		"none":                  {map[string]any{}, "resolver: one of static, dns or k8s is required"},
		"two":                   {map[string]any{"static": map[string]any{"hostnames": []string{"a"}}, "dns": map[string]any{"hostname": "gw"}}, "resolver: only one of static, dns or k8s may be set"},
		"empty static":          {map[string]any{"static": map[string]any{"hostnames": []string{}}}, "resolver::static::hostnames: must list at least one member"},
		"dns no host":           {map[string]any{"dns": map[string]any{"port": "4317"}}, "resolver::dns::hostname: required"},
		"k8s bad fqdn":          {map[string]any{"k8s": map[string]any{"service": "gw.ns.cluster.local"}}, `resolver::k8s::service: "gw.ns.cluster.local" is not name.namespace.svc.<cluster domain>`},
		"ok":                    {map[string]any{"k8s": map[string]any{"service": "gw.ns", "ports": []int{4317}}}, ""},
		"empty static member":   {map[string]any{"static": map[string]any{"hostnames": []string{"a:4317", ""}}}, "resolver::static::hostnames[1]: empty member name"},
		"dns port abc":          {map[string]any{"dns": map[string]any{"hostname": "gw", "port": "abc"}}, `resolver::dns::port: "abc" is not a port number (1 to 65535)`},
		"dns negative interval": {map[string]any{"dns": map[string]any{"hostname": "gw", "interval": "-5s"}}, "resolver::dns::interval: must not be negative, got -5s"},
		"dns interval no unit":  {map[string]any{"dns": map[string]any{"hostname": "gw", "interval": 5}}, "resolver::dns::interval: 5ns is below the minimum 100ms: the unit is missing (a bare number is nanoseconds), write e.g. 5s"},
		"k8s port -1":           {map[string]any{"k8s": map[string]any{"service": "gw.ns", "ports": []int{4317, -1}}}, "resolver::k8s::ports[1]: must be a port from 1 to 65535, got -1"},
		"k8s negative timeout":  {map[string]any{"k8s": map[string]any{"service": "gw.ns", "timeout": "-1m"}}, "resolver::k8s::timeout: must not be negative, got -1m0s"},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg ResolverConfig
			require.NoError(t, confmap.NewFromStringMap(tc.block).Unmarshal(&cfg))
			if tc.err == "" {
				assert.NoError(t, cfg.Check())
			} else {
				assert.EqualError(t, cfg.Check(), tc.err)
			}
		})
	}
}

func TestStaticResolverPublishesSortedList(t *testing.T) {
	r, err := NewResolver(ResolverConfig{Static: configoptional.Some(StaticConfig{Hostnames: []string{"b:1", "a:1"}})}, zap.NewNop(), nil)
	require.NoError(t, err)
	var l lists
	r.OnChange(l.add)
	require.NoError(t, r.Start(context.Background()))
	assert.Equal(t, [][]string{{"a:1", "b:1"}}, l.got)
	require.NoError(t, r.Shutdown(context.Background()))
}

// dnsServer is a real DNS server on loopback answering A and AAAA queries
// for one name with the addresses the test sets.
type dnsServer struct {
	conn  net.PacketConn
	mu    sync.Mutex
	addrs []net.IP
}

func startDNSServer(t *testing.T, addr string) *dnsServer {
	conn, err := net.ListenPacket("udp", addr)
	require.NoError(t, err)
	s := &dnsServer{conn: conn}
	t.Cleanup(func() { _ = conn.Close() })
	go s.serve()
	return s
}

func (s *dnsServer) set(ips ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = nil
	for _, ip := range ips {
		s.addrs = append(s.addrs, net.ParseIP(ip))
	}
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
			continue
		}
		resp := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true}, Questions: q.Questions}
		question := q.Questions[0]
		s.mu.Lock()
		for _, ip := range s.addrs {
			hdr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 1}
			if v4 := ip.To4(); v4 != nil && question.Type == dnsmessage.TypeA {
				hdr.Type = dnsmessage.TypeA
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr, Body: &dnsmessage.AResource{A: [4]byte(v4)}})
			} else if v4 == nil && question.Type == dnsmessage.TypeAAAA {
				hdr.Type = dnsmessage.TypeAAAA
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: hdr, Body: &dnsmessage.AAAAResource{AAAA: [16]byte(ip.To16())}})
			}
		}
		s.mu.Unlock()
		out, err := resp.Pack()
		if err == nil {
			_, _ = s.conn.WriteTo(out, from)
		}
	}
}

func TestDNSResolverFollowsTheServer(t *testing.T) {
	server := startDNSServer(t, "127.0.44.53:5353")
	server.set("10.0.0.2", "10.0.0.1", "fd00::1")
	lookup := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", "127.0.44.53:5353")
	}}

	for name, tc := range map[string]struct {
		port string
		want []string
	}{
		"with port":    {"4317", []string{"10.0.0.1:4317", "10.0.0.2:4317", "[fd00::1]:4317"}},
		"without port": {"", []string{"10.0.0.1", "10.0.0.2", "[fd00::1]"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newDNSResolver(DNSConfig{Hostname: "gateway.test", Port: tc.port, Interval: 20 * time.Millisecond}, zap.NewNop(), lookup)
			var l lists
			r.OnChange(l.add)
			require.NoError(t, r.Start(context.Background()))
			defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
			l.waitFor(t, tc.want)
		})
	}

	t.Run("scale out and in", func(t *testing.T) {
		server.set("10.0.0.1")
		r := newDNSResolver(DNSConfig{Hostname: "gateway.test", Port: "4317", Interval: 20 * time.Millisecond}, zap.NewNop(), lookup)
		var l lists
		r.OnChange(l.add)
		require.NoError(t, r.Start(context.Background()))
		defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
		l.waitFor(t, []string{"10.0.0.1:4317"})
		server.set("10.0.0.1", "10.0.0.3")
		l.waitFor(t, []string{"10.0.0.1:4317", "10.0.0.3:4317"})
		server.set("10.0.0.3")
		l.waitFor(t, []string{"10.0.0.3:4317"})
	})
}

func slice(name string, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "observability",
			Labels: map[string]string{"kubernetes.io/service-name": "otel-gateway-headless"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
	}
}

func endpoint(ip, hostname string, ready bool) discoveryv1.Endpoint {
	ep := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
	if hostname != "" {
		ep.Hostname = &hostname
	}
	return ep
}

func TestK8sResolverWatchesEndpointSlices(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg                   K8sConfig
		first, scaled, shrunk []string
	}{
		"pod IPs with ports": {
			cfg:    K8sConfig{Service: "otel-gateway-headless.observability", Ports: []int32{4317, 4318}},
			first:  []string{"10.1.0.1:4317", "10.1.0.1:4318", "10.1.0.2:4317", "10.1.0.2:4318"},
			scaled: []string{"10.1.0.1:4317", "10.1.0.1:4318", "10.1.0.2:4317", "10.1.0.2:4318", "10.1.0.3:4317", "10.1.0.3:4318"},
			shrunk: []string{"10.1.0.3:4317", "10.1.0.3:4318"},
		},
		"pod IPs without ports": {
			cfg:    K8sConfig{Service: "otel-gateway-headless.observability"},
			first:  []string{"10.1.0.1", "10.1.0.2"},
			scaled: []string{"10.1.0.1", "10.1.0.2", "10.1.0.3"},
			shrunk: []string{"10.1.0.3"},
		},
		"hostnames": {
			cfg:    K8sConfig{Service: "otel-gateway-headless.observability.svc.cluster.local", Ports: []int32{4317}, ReturnHostnames: true},
			first:  []string{"gw-0.otel-gateway-headless.observability:4317", "gw-1.otel-gateway-headless.observability:4317"},
			scaled: []string{"gw-0.otel-gateway-headless.observability:4317", "gw-1.otel-gateway-headless.observability:4317", "gw-2.otel-gateway-headless.observability:4317"},
			shrunk: []string{"gw-2.otel-gateway-headless.observability:4317"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			client := fake.NewClientset()
			ctx := context.Background()
			eps := client.DiscoveryV1().EndpointSlices("observability")
			// Not ready endpoints count too: the exporter has no readiness filter.
			_, err := eps.Create(ctx, slice("a", endpoint("10.1.0.1", "gw-0", true), endpoint("10.1.0.2", "gw-1", false)), metav1.CreateOptions{})
			require.NoError(t, err)

			r, err := newK8sResolver(tc.cfg, zap.NewNop(), client)
			require.NoError(t, err)
			var l lists
			r.OnChange(l.add)
			require.NoError(t, r.Start(ctx))
			defer func() { require.NoError(t, r.Shutdown(ctx)) }()
			l.waitFor(t, tc.first)

			_, err = eps.Create(ctx, slice("b", endpoint("10.1.0.3", "gw-2", true)), metav1.CreateOptions{})
			require.NoError(t, err)
			l.waitFor(t, tc.scaled)

			require.NoError(t, eps.Delete(ctx, "a", metav1.DeleteOptions{}))
			l.waitFor(t, tc.shrunk)
		})
	}
}

func TestK8sResolverSkipsEndpointsWithoutHostname(t *testing.T) {
	client := fake.NewClientset()
	ctx := context.Background()
	_, err := client.DiscoveryV1().EndpointSlices("observability").Create(ctx,
		slice("a", endpoint("10.1.0.1", "gw-0", true), endpoint("10.1.0.2", "", true)), metav1.CreateOptions{})
	require.NoError(t, err)
	r, err := newK8sResolver(K8sConfig{Service: "otel-gateway-headless.observability", ReturnHostnames: true}, zap.NewNop(), client)
	require.NoError(t, err)
	var l lists
	r.OnChange(l.add)
	require.NoError(t, r.Start(ctx))
	defer func() { require.NoError(t, r.Shutdown(ctx)) }()
	l.waitFor(t, []string{"gw-0.otel-gateway-headless.observability"})
}
