package stickycheckprocessor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// blackhole accepts connections and never answers: a peer that hangs.
func blackhole(t *testing.T, addr string) (stop func()) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}
}

// A peer that hangs, then is down, then returns: the replica's pipeline
// passes every span all along, reports beyond the bounded queue are dropped
// and counted, nothing is lost unaccounted, and once the peer is back the
// queued reports reach it and new split traces are counted again.
func TestAuditSurvivesAPeerThatIsSlowThenDown(t *testing.T) {
	members := loopbackMembers("127.0.53", 2)
	a := startReplica(t, members[0], members, nil, func(c *Config) {
		c.Audit.Get().Peer.QueueSize = 100
		c.Audit.Get().Peer.Client.Timeout = 300 * time.Millisecond
	})
	ids := testbed.TraceIDs(54, 2000)
	toB := byOwner(members, ids)[members[1]]
	require.GreaterOrEqual(t, len(toB), 600)
	reports := 0
	misroute := func(ids []pcommon.TraceID) {
		var slowest time.Duration
		for i := 0; i < len(ids); i += 10 {
			start := time.Now()
			a.send(t, ids[i:min(i+10, len(ids))], 0)
			slowest = max(slowest, time.Since(start))
		}
		reports += len(ids)
		t.Logf("%d batches misrouted to %s, slowest ConsumeTraces %s", (len(ids)+9)/10, a.member, slowest)
	}

	stopHole := blackhole(t, peerAddress(members[1], defaultPeerPort))
	misroute(toB[:300])
	time.Sleep(400 * time.Millisecond) // one send times out
	stopHole()
	misroute(toB[300:500])
	time.Sleep(100 * time.Millisecond)

	assert.Equal(t, reports, a.sink.SpanCount(), "every span passed")
	dropped := a.sum(t, mDropped, map[string]string{"reason": "queue_full"})
	assert.Positive(t, dropped)
	assert.Zero(t, a.sum(t, mSent, nil))
	assert.EqualValues(t, reports, dropped+int64(a.sc.audit.client.queued()), "each report is sent, queued or counted as dropped")

	// The peer returns.
	b := startReplica(t, members[1], members, nil, nil)
	rs := tier{a, b}
	rs.settle(t)
	assert.EqualValues(t, reports, a.sum(t, mSent, nil)+a.sum(t, mDropped, nil))
	assert.EqualValues(t, dropped, a.sum(t, mDropped, nil), "nothing more dropped once the peer is back")
	assert.Zero(t, b.sum(t, mSplit, nil), "those traces reached one replica only")

	// Split traces are counted again.
	b.send(t, toB[500:600], 0)
	a.send(t, toB[500:600], 1)
	rs.settle(t)
	assert.EqualValues(t, 100, b.sum(t, mSplit, misrouted))
}

// extensionsHost offers the extensions a component's config names.
type extensionsHost struct {
	component.Host
	extensions map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.extensions }

// bearerHost starts the real bearertokenauth extension with token.
func bearerHost(t *testing.T, token string) (component.Host, component.ID) {
	f := bearertokenauthextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*bearertokenauthextension.Config)
	cfg.BearerToken = configopaque.String(token)
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	id := component.NewID(f.Type())
	return extensionsHost{Host: host, extensions: map[component.ID]component.Component{id: ext}}, id
}

func withBearer(id component.ID) func(*Config) {
	return func(c *Config) {
		p := &c.Audit.Get().Peer
		p.Server.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: id}})
		p.Client.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	}
}

// Peers that authenticate each other with the collector's own auth
// extension count split traces; messages that are unauthenticated,
// malformed, oversized or of another version are refused with a counted
// reason, and the replica keeps serving.
func TestPeerServerRejectsBadMessagesWithAReason(t *testing.T) {
	members := loopbackMembers("127.0.54", 2)
	host, auth := bearerHost(t, "s3cret")
	rs := tier{
		startReplica(t, members[0], members, host, withBearer(auth)),
		startReplica(t, members[1], members, host, withBearer(auth)),
	}
	ids := testbed.TraceIDs(55, 40)
	for _, r := range rs {
		r.send(t, ids, 0)
	}
	rs.settle(t)
	require.EqualValues(t, 40, rs.sum(t, mSplit, misrouted), "authenticated peers count split traces")

	// A replica whose client has no token: its reports are refused, dropped
	// and counted, not retried.
	stranger := startReplica(t, "127.0.54.3:4317", members, host, func(c *Config) {
		withBearer(auth)(c)
		c.Audit.Get().Peer.Client.Auth = configoptional.None[configauth.Config]()
	})
	stranger.send(t, ids, 1)
	deadline := time.Now().Add(10 * time.Second)
	for stranger.sum(t, mDropped, map[string]string{"reason": "refused"}) < 40 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.EqualValues(t, 40, stranger.sum(t, mDropped, map[string]string{"reason": "refused"}))
	assert.Zero(t, stranger.sum(t, mSent, nil))
	assert.EqualValues(t, len(byOwner(members, ids)), rs.sum(t, "processor_stickycheck_peer_reports_rejected", map[string]string{"reason": "unauthenticated"}),
		"one message to each owner, refused")

	target := rs[0]
	url := "http://" + peerAddress(target.member, defaultPeerPort) + peerPath
	rng := rand.New(rand.NewPCG(13, 14))
	valid := appendMessage(nil, replicaID("127.0.54.9:4317"), 1, sampleReports(rng, 4, replicaID("127.0.54.9:4317")))
	wrongVersion := bytes.Clone(valid)
	wrongVersion[4] = 9
	post := func(body []byte, token, contentType string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	for _, tc := range []struct {
		name, token, contentType string
		body                     []byte
		status                   int
		reason                   string
	}{
		{"no token", "", peerContentType, valid, http.StatusUnauthorized, rejectUnauthenticated},
		{"wrong token", "guess", peerContentType, valid, http.StatusUnauthorized, rejectUnauthenticated},
		{"garbage", "s3cret", peerContentType, []byte("GET / HTTP/1.1"), http.StatusBadRequest, rejectMalformed},
		{"truncated", "s3cret", peerContentType, valid[:len(valid)-3], http.StatusBadRequest, rejectMalformed},
		{"content type", "s3cret", "application/json", valid, http.StatusUnsupportedMediaType, rejectUnsupportedMediaType},
		{"version 9", "s3cret", peerContentType, wrongVersion, http.StatusBadRequest, rejectUnsupportedVersion},
		{"2 MiB", "s3cret", peerContentType, make([]byte, 2<<20), http.StatusRequestEntityTooLarge, rejectOversized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := target.sum(t, "processor_stickycheck_peer_reports_rejected", map[string]string{"reason": tc.reason})
			status, msg := post(tc.body, tc.token, tc.contentType)
			assert.Equal(t, tc.status, status, msg)
			assert.True(t, strings.HasPrefix(msg, tc.reason+": "), msg)
			assert.NotContains(t, msg, tc.reason+": "+tc.reason, "the reason once")
			assert.EqualValues(t, before+1, target.sum(t, "processor_stickycheck_peer_reports_rejected", map[string]string{"reason": tc.reason}))
		})
	}
	received := target.sum(t, mReceived, nil)
	status, msg := post(valid, "s3cret", peerContentType)
	assert.Equal(t, http.StatusNoContent, status, msg)
	assert.EqualValues(t, received+4, target.sum(t, mReceived, nil), "still serving")
}

// writeCerts writes a CA and, signed by it, a certificate for the given IPs
// good for server and client authentication; it returns the files.
func writeCerts(t *testing.T, ips ...string) (ca, cert, key string) {
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stickycheck test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(cryptorand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, ip := range ips {
		leaf.IPAddresses = append(leaf.IPAddresses, net.ParseIP(ip))
	}
	leafDER, err := x509.CreateCertificate(cryptorand.Reader, leaf, caTmpl, &leafKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	require.NoError(t, err)
	return write("ca.crt", "CERTIFICATE", caDER), write("gateway.crt", "CERTIFICATE", leafDER), write("gateway.key", "PRIVATE KEY", keyDER)
}

// Peers on mutual TLS (the collector's configtls on both sides) count split
// traces; a client without a certificate gets no answer.
func TestPeersOnMutualTLS(t *testing.T) {
	members := loopbackMembers("127.0.58", 2)
	ca, cert, key := writeCerts(t, "127.0.58.1", "127.0.58.2")
	mtls := func(c *Config) {
		p := &c.Audit.Get().Peer
		p.Server.TLS = configoptional.Some(configtls.ServerConfig{
			Config:       configtls.Config{CertFile: cert, KeyFile: key},
			ClientCAFile: ca,
		})
		p.Client.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: ca, CertFile: cert, KeyFile: key}}
	}
	rs := startTier(t, members, members, mtls)
	ids := testbed.TraceIDs(58, 40)
	for _, r := range rs {
		r.send(t, ids, 0)
	}
	rs.settle(t)
	assert.EqualValues(t, 40, rs.sum(t, mSplit, misrouted))
	assert.Positive(t, rs.sum(t, mBytes, nil))

	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(ca)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := noCert.Post("https://"+peerAddress(members[0], defaultPeerPort)+peerPath, peerContentType, bytes.NewReader([]byte("x")))
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "no client certificate, no answer")
}

// Reports being sent to a peer that leaves the ring meanwhile (it hangs, as
// a removed container's address does) are not stuck with it: the ring
// change ends their send, and they go to their owners under the new ring,
// this replica included, without waiting for the client's timeout.
func TestAuditReportsInFlightToADepartedPeerGoToTheNewOwners(t *testing.T) {
	ms := freeMembers(t, "127.0.59", 61, 3)
	before, after := ms[:2], []string{ms[0], ms[2]}
	t.Cleanup(blackhole(t, peerAddress(ms[1], defaultPeerPort)))
	a := startReplica(t, ms[0], before, nil, func(c *Config) {
		c.Audit.Get().Peer.Client.Timeout = time.Minute
	})
	c := startReplica(t, ms[2], after, nil, nil)
	ids := byOwner(before, testbed.TraceIDs(596, 400))[ms[1]]
	a.send(t, ids, 0)
	inflight := func() int {
		cl := a.sc.audit.client
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return cl.inflight
	}
	deadline := time.Now().Add(10 * time.Second)
	for inflight() != len(ids) {
		require.True(t, time.Now().Before(deadline), "the reports never went out")
		time.Sleep(10 * time.Millisecond)
	}

	a.resolver.set(after) // the hanging peer leaves
	toC := byOwner(after, ids)[ms[2]]
	rs := tier{a, c}
	rs.settle(t)
	assert.EqualValues(t, len(toC), c.sum(t, mReceived, nil), "the reports now owned by the new member reached it")
	assert.Zero(t, rs.sum(t, mDropped, nil))

	// The traces' next spans, at their new owners: those now owned by the
	// new member are split (their reports made it), the others were seen by
	// this replica alone.
	for owner, mine := range byOwner(after, ids) {
		rs.byMember(owner).send(t, mine, 1)
	}
	rs.settle(t)
	assert.EqualValues(t, len(toC), rs.sum(t, mSplit, nil))
}
