package readydns

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// health is a replica's health check on 127.0.0.x that answers 200 or 503.
type health struct {
	addr netip.Addr
	up   atomic.Bool
}

func startHealth(t *testing.T, ip string, port int) *health {
	t.Helper()
	h := &health{addr: netip.MustParseAddr(ip)}
	h.up.Store(true)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	require.NoError(t, err, "%s:%d must be free", ip, port)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if h.up.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return h
}

func TestPollerKeepsTheReadyReplicasOnly(t *testing.T) {
	const port = 13199
	a := startHealth(t, "127.0.71.1", port)
	b := startHealth(t, "127.0.71.2", port)
	gone := netip.MustParseAddr("127.0.71.3") // listed, nothing answers
	var lookupFails atomic.Bool
	m := &Members{}
	p := &Poller{
		Lookup: func(context.Context) ([]netip.Addr, error) {
			if lookupFails.Load() {
				return nil, &net.DNSError{Err: "server misbehaving", IsTemporary: true}
			}
			return []netip.Addr{b.addr, gone, a.addr}, nil
		},
		Ready:    HTTPReady(&http.Client{Timeout: 200 * time.Millisecond}, strconv.Itoa(port), "/"),
		Interval: 300 * time.Millisecond,
		Members:  m,
	}
	ctx := context.Background()
	p.Once(ctx)
	assert.Equal(t, []netip.Addr{a.addr, b.addr}, m.Addrs(), "sorted, the one that does not answer left out")

	b.up.Store(false) // stopping: its health check answers 503
	p.Once(ctx)
	assert.Equal(t, []netip.Addr{a.addr}, m.Addrs())

	lookupFails.Store(true)
	p.Once(ctx)
	assert.Equal(t, []netip.Addr{a.addr}, m.Addrs(), "a failed lookup keeps the last answer")
}

func TestHandlerAnswersTheReadyAddresses(t *testing.T) {
	m := &Members{}
	m.Set([]netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")})
	pc, err := net.ListenPacket("udp", "127.0.71.10:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: Handler("gateway.ready", m)}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	ips, err := LookupHost(r, "gateway.ready")(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}, ips)

	m.Set(nil)
	ips, err = LookupHost(r, "gateway.ready")(context.Background())
	require.NoError(t, err, "no ready replica is an empty answer, not an error")
	assert.Empty(t, ips)

	_, err = r.LookupNetIP(context.Background(), "ip4", "other.name")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound, "another name is NXDOMAIN")
}
