package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// The peer protocol as its README documents it (processor/stickycheckprocessor):
// what a forger writes without our code.
const (
	peerPath        = "/stickycheck/v1/reports"
	peerContentType = "application/x-stickycheck-reports"
)

// forgedMessage is a well-formed message of n reports from sender: a trace
// ID each, the "counted" flag on every other one (a forged handoff that
// would hide a split).
func forgedMessage(sender uint64, n int) []byte {
	b := []byte("SCKP")
	b = append(b, 1, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint64(b, sender)
	b = binary.BigEndian.AppendUint64(b, 7)
	for i := range n {
		b = append(b, byte(i%2)<<1) // bit 1: counted
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], uint64(i)+1)
		binary.BigEndian.PutUint64(id[8:], 0x5ec0de)
		b = append(b, id[:]...)
	}
	return b
}

// securityGateway is one gateway of configs/gateway.yaml, as shipped, on
// 127.0.64.11, with token as its STICKYCHECK_PEER_TOKEN.
type securityGateway struct {
	proc  *localtopo.Process
	host  string
	token string
}

func startSecurityGateway(t *testing.T, token string) *securityGateway {
	t.Helper()
	const host = "127.0.64.11"
	dir := t.TempDir()
	m := localtopo.Member{
		Name: "gateway", Config: filepath.Join(testbed.RepoRoot(), "configs", "gateway.yaml"), Host: host,
		Env: map[string]string{
			"POD_IP": host, "GATEWAY_SELF": host + ":4317",
			"GATEWAY_RESOLVER":     "{static: {hostnames: [127.0.64.11:4317, 127.0.64.12:4317]}}",
			"BACKEND_ENDPOINT":     "127.0.64.20:4317",
			"FILE_STORAGE_DIR":     filepath.Join(dir, "queue"),
			localtopo.PeerTokenEnv: token,
		},
		LogFile: filepath.Join(dir, "gateway.log"),
		Listens: []localtopo.Listen{{Purpose: "peer", Addr: host + ":4319"}, {Purpose: "health", Addr: host + ":13133"}},
	}
	require.NoError(t, localtopo.CheckPortsFree([]localtopo.Member{m}))
	p, err := localtopo.StartProcess(context.Background(), testbed.Binary(t), m)
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	return &securityGateway{proc: p, host: host, token: token}
}

// metric is a counter's value; a missing metric fails the test.
func (g *securityGateway) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	m, err := testbed.Scrape(net.JoinHostPort(g.host, "8888"))
	require.NoError(t, err)
	v, ok := selfmetrics.Sum(selfmetrics.Families(m), name, labels)
	require.Truef(t, ok, "metric %s%v not exposed", name, labels)
	return v
}

func (g *securityGateway) rejected(t *testing.T, reason string) float64 {
	return g.metric(t, "otelcol_processor_stickycheck_peer_reports_rejected", map[string]string{"reason": reason})
}

// rejectedSoFar is rejected, or 0 before the first rejection of reason
// (the series appears with it).
func (g *securityGateway) rejectedSoFar(t *testing.T, reason string) float64 {
	return g.soFar(t, "otelcol_processor_stickycheck_peer_reports_rejected", map[string]string{"reason": reason})
}

// soFar is a counter's value, 0 while it has not been exposed yet (a series
// appears with its first count): for the values before a step only.
func (g *securityGateway) soFar(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	m, err := testbed.Scrape(net.JoinHostPort(g.host, "8888"))
	require.NoError(t, err)
	v, _ := selfmetrics.Sum(selfmetrics.Families(m), name, labels)
	return v
}

// post sends body to the peer port from the loopback address from, with
// token ("" for none), and returns the status and the answer.
func (g *securityGateway) post(t *testing.T, from, token string, body []byte) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, "http://"+net.JoinHostPort(g.host, "4319")+peerPath, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", peerContentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var msg bytes.Buffer
	_, _ = msg.ReadFrom(resp.Body)
	return resp.StatusCode, strings.TrimSpace(msg.String())
}

// rssBytes is the process's resident set (VmRSS).
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// The shipped gateway config authenticates its peers: a forged report is
// refused and counted as unauthenticated, changes no count, and the real
// peer (with the token) is served; without a token the gateway does not
// start. Then slow bodies: RSS stays bounded and a real peer is served.
func TestShippedGatewayPeerPortIsSecureAndBounded(t *testing.T) {
	token, err := localtopo.NewPeerToken()
	require.NoError(t, err)
	gw := startSecurityGateway(t, token)
	const realPeer = "127.0.64.12"

	t.Run("forged reports refused", func(t *testing.T) {
		msg := forgedMessage(0xbad, 1000)
		for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "guess"}, {"token of another tier", "sckp-" + strings.Repeat("0", 64)}} {
			before := gw.rejectedSoFar(t, "unauthenticated")
			status, answer := gw.post(t, "127.0.64.40", tc.token, msg)
			assert.Equal(t, http.StatusUnauthorized, status, "%s: %s", tc.name, answer)
			assert.True(t, strings.HasPrefix(answer, "unauthenticated: "), answer)
			assert.Equal(t, before+1, gw.rejected(t, "unauthenticated"), tc.name)
		}
		assert.Zero(t, gw.soFar(t, "otelcol_processor_stickycheck_peer_reports_received", nil), "no forged report applied")
		assert.Zero(t, gw.soFar(t, "otelcol_processor_stickycheck_traces_split", nil), "no split counted")

		status, answer := gw.post(t, realPeer, token, forgedMessage(0x9ee7, 4))
		assert.Equal(t, http.StatusNoContent, status, answer)
		assert.EqualValues(t, 4, gw.metric(t, "otelcol_processor_stickycheck_peer_reports_received", nil), "the real peer is served")
	})

	t.Run("no token, no start", func(t *testing.T) {
		cmd := exec.Command(testbed.Binary(t), "--config", filepath.Join(testbed.RepoRoot(), "configs", "gateway.yaml"))
		cmd.Env = append(slicesWithout(os.Environ(), localtopo.PeerTokenEnv+"="), "POD_IP=127.0.64.13", "FILE_STORAGE_DIR="+t.TempDir())
		out, err := runToExit(t, cmd, 60*time.Second)
		require.Error(t, err, out)
		assert.Contains(t, out, `Configuration references unset environment variable	{"name": "STICKYCHECK_PEER_TOKEN"}`)
		assert.Contains(t, out, "extensions::bearertokenauth/peer: no bearer token provided")
	})

	t.Run("slow bodies", func(t *testing.T) { slowBodies(t, gw, realPeer) })
}

func slicesWithout(env []string, prefix string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// slowBodies opens conns connections that each send a request's headers
// and then hold their body back: half without the token, half with it (a
// peer that has the secret but misbehaves), from four loopback addresses
// (the ones with the token from two of them).
// Each connection lives at most the server's read timeout plus a margin.
func slowBodies(t *testing.T, gw *securityGateway, realPeer string) {
	const (
		conns    = 1500
		bodySize = 400_000 // under the largest message (409,624 bytes): read until the last byte
		hold     = 15 * time.Second
	)
	pid := gw.proc.Pid()
	base := rssBytes(t, pid)
	before := map[string]float64{}
	for _, r := range []string{"unauthenticated", "too_many_requests", "timeout"} {
		before[r] = gw.rejectedSoFar(t, r)
	}
	var peak atomic.Int64
	peak.Store(base)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
					for _, line := range strings.Split(string(raw), "\n") {
						if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
							kb, _ := strconv.ParseInt(f[1], 10, 64)
							if kb<<10 > peak.Load() {
								peak.Store(kb << 10)
							}
						}
					}
				}
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), hold+10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var opened, answered, held atomic.Int64
	statuses := sync.Map{}
	dialing := make(chan struct{}, 100) // dials at once
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dialing <- struct{}{}
			from := fmt.Sprintf("127.0.64.%d", 50+i%4)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(gw.host, "4319"))
			<-dialing
			if err != nil {
				return
			}
			defer c.Close()
			opened.Add(1)
			_ = c.SetDeadline(time.Now().Add(hold))
			auth := ""
			if i%2 == 1 {
				auth = "Authorization: Bearer " + gw.token + "\r\n"
			}
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n", peerPath, gw.host, peerContentType, bodySize, auth)
			// An answer before the body (401, 429) ends it; else all but
			// the last byte of the body, and wait.
			br := bufio.NewReader(c)
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if resp, err := http.ReadResponse(br, nil); err == nil {
				answered.Add(1)
				v, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				return
			}
			_ = c.SetDeadline(time.Now().Add(hold))
			if _, err := c.Write(make([]byte, bodySize-1)); err != nil {
				return
			}
			held.Add(1)
			if resp, err := http.ReadResponse(br, nil); err == nil {
				v, _ := statuses.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}

	// A real peer, during the attack, from its own address.
	time.Sleep(2 * time.Second)
	received := gw.soFar(t, "otelcol_processor_stickycheck_peer_reports_received", nil)
	peerStart := time.Now()
	status, answer := gw.post(t, realPeer, gw.token, forgedMessage(0x9ee7, 8))
	peerLatency := time.Since(peerStart)
	assert.Equal(t, http.StatusNoContent, status, answer)
	assert.EqualValues(t, received+8, gw.metric(t, "otelcol_processor_stickycheck_peer_reports_received", nil), "the real peer is served during the attack")

	wg.Wait()
	close(stopSampling)
	<-sampled
	elapsed := time.Since(start)
	after := rssBytes(t, pid)
	counts := map[int]int64{}
	statuses.Range(func(k, v any) bool { counts[k.(int)] = v.(*atomic.Int64).Load(); return true })

	growth := peak.Load() - base
	t.Logf("slow bodies: %d connections opened (%d answered before their body: %v; %d held their body), %.1fs; RSS %d MiB before, peak %d MiB (+%d MiB), %d MiB after; a real peer answered in %s",
		opened.Load(), answered.Load(), counts, held.Load(), elapsed.Seconds(), base>>20, peak.Load()>>20, growth>>20, after>>20, peerLatency.Round(time.Millisecond))
	require.EqualValues(t, conns, opened.Load(), "every connection opened")
	// Bound: 32 requests of 1 MiB, each read into a buffer that grows to
	// twice that at most, plus the connections' buffers and goroutines.
	assert.Less(t, growth, int64(160<<20), "RSS grew by %d MiB", growth>>20)
	assert.Equal(t, before["unauthenticated"]+conns/2, gw.rejected(t, "unauthenticated"), "every unauthenticated connection refused")
	tooMany := gw.rejected(t, "too_many_requests") - before["too_many_requests"]
	timedOut := gw.rejected(t, "timeout") - before["timeout"]
	assert.LessOrEqual(t, timedOut, float64(4*4), "at most 4 slow bodies per address read at once")
	assert.Positive(t, timedOut, "slow bodies are cut off by the read timeout")
	assert.Equal(t, float64(conns/2), tooMany+timedOut, "every authenticated slow body refused or cut off")

	// Rejections are warned about, rate-limited: one per reason per 10 s.
	raw, err := os.ReadFile(gw.proc.Member().LogFile)
	require.NoError(t, err)
	warnings := strings.Count(string(raw), "stickycheck peer message rejected")
	assert.Positive(t, warnings)
	assert.LessOrEqual(t, warnings, 3*int(elapsed/(10*time.Second)+2), "warnings are rate-limited")
}
