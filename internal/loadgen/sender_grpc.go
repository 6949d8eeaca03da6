package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawMessage carries an already serialised message through gRPC.
type rawMessage struct{ data []byte }

// rawCodec hands gRPC the request's bytes as they are: no marshalling per send.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.data)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	m.data = data.Materialize()
	return nil
}

// Name is the content subtype: the collector sees application/grpc+proto.
func (rawCodec) Name() string { return "proto" }

type grpcSender struct {
	conn *grpc.ClientConn
	opts []grpc.CallOption
}

// dialGRPC opens one connection and waits, up to timeout, until it is ready.
func dialGRPC(ctx context.Context, endpoint, compression string, timeout time.Duration) (*grpcSender, error) {
	if err := reachable(ctx, endpoint, timeout); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn.Connect()
	for state := conn.GetState(); state != connectivity.Ready; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			_ = conn.Close()
			return nil, fmt.Errorf("cannot connect to %s over gRPC within %s (connection %s)", endpoint, timeout, state)
		}
	}
	s := &grpcSender{conn: conn, opts: []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}}
	if compression == CompressionGzip {
		s.opts = append(s.opts, grpc.UseCompressor(gzip.Name))
	}
	return s, nil
}

func (s *grpcSender) Export(ctx context.Context, request []byte) Outcome {
	var resp rawMessage
	var p peer.Peer
	opts := append(s.opts[:len(s.opts):len(s.opts)], grpc.Peer(&p))
	err := s.conn.Invoke(ctx, exportMethod, &rawMessage{data: request}, &resp, opts...)
	if err != nil {
		return grpcOutcome(err, p.Addr != nil)
	}
	er := ptraceotlp.NewExportResponse()
	if err := er.UnmarshalProto(resp.data); err != nil {
		return Outcome{Status: "BadResponse", Message: err.Error(), Kind: Refused}
	}
	if n := er.PartialSuccess().RejectedSpans(); n > 0 {
		return Outcome{Status: "PartialSuccess", Message: er.PartialSuccess().ErrorMessage(), Rejected: n, Kind: Accepted}
	}
	return Outcome{Status: "OK", Kind: Accepted}
}

// grpcOutcome classifies an error: the collector refused the request when it
// answered with a status; the request failed when no answer came (timeout,
// cancellation, or no stream to a peer at all).
func grpcOutcome(err error, reachedPeer bool) Outcome {
	st, _ := status.FromError(err)
	o := Outcome{Status: st.Code().String(), Message: st.Message(), Kind: Refused}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded,
		errors.Is(err, context.Canceled) || st.Code() == codes.Canceled,
		!reachedPeer:
		o.Kind = Failed
	}
	return o
}

func (s *grpcSender) Close() error { return s.conn.Close() }
