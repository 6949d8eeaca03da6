package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// Loopback addresses of these tests: 127.0.92.x.

type server struct {
	ptraceotlp.UnimplementedGRPCServer
	refuse bool
}

func (s *server) Export(context.Context, ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if s.refuse {
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unavailable, "data refused due to high memory usage")
	}
	return ptraceotlp.NewExportResponse(), nil
}

func serve(t *testing.T, addr string, refuse bool) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, &server{refuse: refuse})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
}

func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, false)
	return code, stdout.String(), stderr.String()
}

func TestAcceptedRunExitsZeroWithJSONSummary(t *testing.T) {
	serve(t, "127.0.92.1:4317", false)
	code, out, errOut := runArgs("--endpoint", "127.0.92.1:4317", "--count", "2000", "--rate", "max", "--json")
	require.Equal(t, 0, code, errOut)
	var sum loadgen.Summary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, loadgen.Tally{Sent: 2000, Accepted: 2000}, sum.Spans)
	assert.EqualValues(t, 400, sum.Traces)
	assert.Empty(t, errOut)
}

func TestRefusedRunExitsOneNamingTheStatus(t *testing.T) {
	serve(t, "127.0.92.2:4317", true)
	code, out, errOut := runArgs("--endpoint", "127.0.92.2:4317", "--count", "1000")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "refused Unavailable: 2 requests, 1,000 spans: data refused due to high memory usage")
	assert.Contains(t, errOut, "loadgen: 127.0.92.2:4317 refused 2 requests (Unavailable)")
}

func TestBadInputExitsWithAClearMessage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--no-such-flag"}, 2, "loadgen: flag provided but not defined: -no-such-flag"},
		{[]string{"--rate", "0"}, 2, `loadgen: rate: "0" is not a positive number of spans per second, or max`},
		{[]string{"--rate", "-5"}, 2, `rate: "-5" is not a positive number`},
		{[]string{"--duration", "0"}, 2, "a run is bounded"},
		{[]string{"--protocol", "udp"}, 2, `protocol: "udp" is not grpc or http`},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--endpoint", "127.0.92.3:4317", "--count", "500"}, 1, "loadgen: cannot reach 127.0.92.3:4317: dial tcp 127.0.92.3:4317: connect: connection refused"},
	}
	for _, c := range cases {
		code, _, errOut := runArgs(c.args...)
		assert.Equalf(t, c.code, code, "%v: %s", c.args, errOut)
		assert.Containsf(t, errOut, c.want, "%v", c.args)
	}
}

func TestHelpExitsZero(t *testing.T) {
	code, _, errOut := runArgs("-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "usage: loadgen [options]")
	assert.Contains(t, errOut, "-rate spans/s")
}
