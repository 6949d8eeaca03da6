package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// received records what a test server got: spans by trace ID.
type received struct {
	mu     sync.Mutex
	spans  map[pcommon.TraceID]map[pcommon.SpanID]int
	total  int
	answer func(n int, td ptrace.Traces) (ptraceotlp.ExportResponse, error)
	calls  int
}

func newReceived() *received {
	return &received{spans: map[pcommon.TraceID]map[pcommon.SpanID]int{}}
}

func (r *received) take(td ptrace.Traces) (ptraceotlp.ExportResponse, error) {
	r.mu.Lock()
	r.calls++
	n := r.calls
	answer := r.answer
	r.mu.Unlock()
	if answer != nil {
		resp, err := answer(n, td)
		if err != nil {
			return resp, err
		}
		if resp.PartialSuccess().RejectedSpans() > 0 {
			return resp, nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if r.spans[s.TraceID()] == nil {
					r.spans[s.TraceID()] = map[pcommon.SpanID]int{}
				}
				r.spans[s.TraceID()][s.SpanID()]++
				r.total++
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

type grpcServer struct {
	ptraceotlp.UnimplementedGRPCServer
	r *received
}

func (s *grpcServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return s.r.take(req.Traces())
}

// startGRPC serves OTLP/gRPC on addr (a loopback host:port of the test's own).
func startGRPC(t *testing.T, addr string, r *received) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &grpcServer{r: r})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
}

// startHTTP serves OTLP/HTTP (protobuf) on addr; an answer error becomes a
// 503 with a google.rpc.Status body, as the collector's receiver does.
func startHTTP(t *testing.T, addr string, r *received) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		er := ptraceotlp.NewExportRequest()
		if err := er.UnmarshalProto(body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		resp, err := r.take(er.Traces())
		w.Header().Set("Content-Type", "application/x-protobuf")
		if err != nil {
			b, _ := proto.Marshal(&spb.Status{Code: 14, Message: err.Error()})
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(b)
			return
		}
		b, _ := resp.MarshalProto()
		_, _ = w.Write(b)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}
