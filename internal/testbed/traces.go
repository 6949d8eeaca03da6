package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TraceIDs returns n distinct random trace IDs drawn from seed.
func TraceIDs(seed uint64, n int) []pcommon.TraceID {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := make([]pcommon.TraceID, 0, n)
	seen := make(map[pcommon.TraceID]bool, n)
	for len(ids) < n {
		var id pcommon.TraceID
		binary.LittleEndian.PutUint64(id[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
		if id.IsEmpty() || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}

// SpanID is the deterministic span ID of span i of a trace.
func SpanID(trace pcommon.TraceID, i int) pcommon.SpanID {
	var id pcommon.SpanID
	copy(id[:], trace[:4])
	binary.BigEndian.PutUint32(id[4:], uint32(i)+1)
	return id
}

// AppendSpans adds spans [from, to) of each trace to td, in one resource of
// service.name=service: span 0 is the root, the others its children.
func AppendSpans(td ptrace.Traces, service string, ids []pcommon.TraceID, from, to int) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for _, id := range ids {
		for i := from; i < to; i++ {
			s := spans.AppendEmpty()
			s.SetTraceID(id)
			s.SetSpanID(SpanID(id, i))
			if i > 0 {
				s.SetParentSpanID(SpanID(id, 0))
			}
			s.SetName(fmt.Sprintf("span-%d", i))
			s.SetKind(ptrace.SpanKindServer)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		}
	}
}

// Sender sends OTLP/gRPC trace requests to one endpoint.
type Sender struct {
	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
}

// NewSender connects to an OTLP/gRPC endpoint (host:port), without TLS.
func NewSender(endpoint string) (*Sender, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &Sender{conn: conn, client: ptraceotlp.NewGRPCClient(conn)}, nil
}

// Send exports td and fails on a refused or partially refused request.
func (s *Sender) Send(ctx context.Context, td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := s.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	if err != nil {
		return err
	}
	if n := resp.PartialSuccess().RejectedSpans(); n > 0 {
		return fmt.Errorf("%d spans rejected: %s", n, resp.PartialSuccess().ErrorMessage())
	}
	return nil
}

// Close closes the connection.
func (s *Sender) Close() error { return s.conn.Close() }
