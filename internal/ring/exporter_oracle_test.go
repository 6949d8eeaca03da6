package ring

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	lbexporter "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// The real upstream load-balancing exporter, built from its factory, routes
// 100,000 random trace IDs over real OTLP/gRPC to receivers on loopback; our
// ring names the receiver that got each trace, for every one of them.
func TestCurrentRingAgreesWithUpstreamExporter(t *testing.T) {
	for name, tc := range map[string]struct {
		members []string // as configured (and hashed)
		listen  []string // where each member's receiver listens
	}{
		"ip:port": {
			members: []string{"127.0.42.1:14317", "127.0.42.2:14317", "127.0.42.3:14317"},
			listen:  []string{"127.0.42.1:14317", "127.0.42.2:14317", "127.0.42.3:14317"},
		},
		// Bare hosts are hashed as they are; the exporter then dials port 4317.
		"bare ip": {
			members: []string{"127.0.43.1", "127.0.43.2", "127.0.43.3", "127.0.43.4"},
			listen:  []string{"127.0.43.1:4317", "127.0.43.2:4317", "127.0.43.3:4317", "127.0.43.4:4317"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := routeThroughUpstreamExporter(t, tc.members, tc.listen, randomIDs(11, 100_000))
			r := New(Current, tc.members)
			mismatches := 0
			for id, member := range got {
				if want := r.OwnerName(id); want != member {
					mismatches++
					if mismatches <= 5 {
						t.Errorf("trace %x: exporter sent it to %s, ring says %s", id, member, want)
					}
				}
			}
			require.Zero(t, mismatches)
		})
	}
}

// routeThroughUpstreamExporter returns, for each trace ID, the member whose
// receiver got it.
func routeThroughUpstreamExporter(t *testing.T, members, listen []string, ids [][16]byte) map[[16]byte]string {
	t.Helper()
	recorder := &routeRecorder{got: make(map[[16]byte]string, len(ids))}
	for i, addr := range listen {
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err)
		srv := grpc.NewServer()
		ptraceotlp.RegisterGRPCServer(srv, &memberReceiver{member: members[i], rec: recorder})
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
	}

	factory := lbexporter.NewFactory()
	cfg := factory.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"routing_key": "traceID",
		"protocol":    map[string]any{"otlp": map[string]any{"tls": map[string]any{"insecure": true}}},
		"resolver":    map[string]any{"static": map[string]any{"hostnames": members}},
	}).Unmarshal(cfg))
	exp, err := factory.CreateTraces(context.Background(), exportertest.NewNopSettings(factory.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

	const perBatch = 2000
	for i := 0; i < len(ids); i += perBatch {
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		for _, id := range ids[i:min(i+perBatch, len(ids))] {
			s := spans.AppendEmpty()
			s.SetTraceID(pcommon.TraceID(id))
			s.SetSpanID(pcommon.SpanID{1})
		}
		require.NoError(t, exp.ConsumeTraces(context.Background(), td))
	}
	deadline := time.Now().Add(60 * time.Second)
	for recorder.count() < len(ids) {
		require.Truef(t, time.Now().Before(deadline), "receivers got %d of %d traces", recorder.count(), len(ids))
		time.Sleep(50 * time.Millisecond)
	}
	return recorder.got
}

type routeRecorder struct {
	mu  sync.Mutex
	got map[[16]byte]string
}

func (r *routeRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

type memberReceiver struct {
	ptraceotlp.UnimplementedGRPCServer
	member string
	rec    *routeRecorder
}

func (m *memberReceiver) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	m.rec.mu.Lock()
	defer m.rec.mu.Unlock()
	rss := req.Traces().ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				id := [16]byte(spans.At(k).TraceID())
				if prev, dup := m.rec.got[id]; dup && prev != m.member {
					panic(fmt.Sprintf("trace %x reached %s and %s", id, prev, m.member))
				}
				m.rec.got[id] = m.member
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}
