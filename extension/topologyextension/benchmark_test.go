package topologyextension

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// One measurement: GET and parse a gateway's real self-telemetry (128 lines,
// testdata/gateway-metrics.txt). The extension does this once per interval
// (1 s to 15 s), off the data path.
func BenchmarkScrape(b *testing.B) {
	payload, err := os.ReadFile(filepath.Join("testdata", "gateway-metrics.txt"))
	require.NoError(b, err)
	ln, err := net.Listen("tcp", "127.0.60.5:0")
	require.NoError(b, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(payload) })}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); wg.Wait() }()

	m := newMeter("http://"+ln.Addr().String()+"/metrics", time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := m.scrape(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	m.client.CloseIdleConnections()
	require.Positive(b, m.samples[len(m.samples)-1].rss, "parsed")
}
