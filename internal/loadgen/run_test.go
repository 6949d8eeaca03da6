package loadgen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Loopback addresses of these tests: 127.0.91.x (issue 9's range).

func smallConfig(endpoint string) Config {
	cfg := DefaultConfig()
	cfg.Endpoint = endpoint
	cfg.Shape = Shape{SpansPerTrace: 3, TracesPerRequest: 10, Attributes: 2, AttributeSize: 8, Services: 2}
	cfg.Rate = 0
	cfg.Duration = 0
	cfg.Count = 3000
	cfg.DialTimeout = 2 * time.Second
	cfg.ExportTimeout = 2 * time.Second
	return cfg
}

// assertReceivedExactly checks that the server got every span of the traces
// [0, traces) of the seed once, and nothing else.
func assertReceivedExactly(t *testing.T, r *received, seed uint64, traces, spansPerTrace int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.spans, traces)
	for n := range traces {
		id := pcommon.TraceID(TraceID(seed, uint64(n)))
		spans := r.spans[id]
		require.Lenf(t, spans, spansPerTrace, "trace %d", n)
		for sid, times := range spans {
			require.Equalf(t, 1, times, "trace %d span %s arrived %d times", n, sid, times)
		}
	}
}

func TestRunCountSendsExactlyTheTracesOfTheSeed(t *testing.T) {
	for _, proto := range []Protocol{GRPC, HTTP} {
		t.Run(string(proto), func(t *testing.T) {
			addr := "127.0.91.1:4317"
			r := newReceived()
			if proto == GRPC {
				startGRPC(t, addr, r)
			} else {
				addr = "127.0.91.1:4318"
				startHTTP(t, addr, r)
			}
			cfg := smallConfig(addr)
			cfg.Protocol = proto
			cfg.Seed = 5
			sum, err := Run(context.Background(), cfg, nil)
			require.NoError(t, err)

			assert.True(t, sum.OK(), sum.Problem())
			assert.Equal(t, Tally{Sent: 100, Accepted: 100}, sum.Requests)
			assert.Equal(t, Tally{Sent: 3000, Accepted: 3000}, sum.Spans)
			assert.EqualValues(t, 1000, sum.Traces)
			assert.Equal(t, 3000, r.count())
			assertReceivedExactly(t, r, 5, 1000, 3)
			assert.Positive(t, sum.CPUSeconds)
			assert.Positive(t, sum.SpansPerCPUSecond)

			var text strings.Builder
			require.NoError(t, sum.WriteText(&text))
			for _, want := range []string{
				"loadgen: 3,000 spans in 100 requests to " + addr + " (" + string(proto) + ")",
				"accepted  3,000 spans", "refused   0 spans", "rate ", "(target max)",
				"request   30 spans in 10 traces of 3", "traces    seed 5, indices 0 to 999",
			} {
				assert.Contains(t, text.String(), want)
			}
		})
	}
}

func TestRunHoldsTheTargetRateForTheDuration(t *testing.T) {
	r := newReceived()
	startGRPC(t, "127.0.91.2:4317", r)
	cfg := smallConfig("127.0.91.2:4317")
	cfg.Count = 0
	cfg.Rate = 3000 // 100 requests/s of 30 spans
	cfg.Duration = 2 * time.Second
	var ticks []Progress
	sum, err := Run(context.Background(), cfg, func(p Progress) { ticks = append(ticks, p) })
	require.NoError(t, err)
	require.True(t, sum.OK(), sum.Problem())
	// Paced from the start: 200 slots in 2 s, give or take the last one.
	assert.InDelta(t, 200, sum.Requests.Sent, 2)
	assert.InDelta(t, 3000, sum.Rate, 300)
	assert.EqualValues(t, r.count(), sum.Spans.Accepted)
	assert.NotEmpty(t, ticks, "progress every second")
	assert.Contains(t, ticks[0].Line(), "spans/s")
}

func TestRunCountsRefusedByStatusAndPartialSuccess(t *testing.T) {
	r := newReceived()
	r.answer = func(n int, td ptrace.Traces) (ptraceotlp.ExportResponse, error) {
		resp := ptraceotlp.NewExportResponse()
		switch n % 10 {
		case 1:
			return resp, status.Error(codes.Unavailable, "data refused due to high memory usage")
		case 2:
			return resp, status.Error(codes.ResourceExhausted, "sending queue is full")
		case 3:
			resp.PartialSuccess().SetRejectedSpans(4)
			resp.PartialSuccess().SetErrorMessage("4 spans too old")
		}
		return resp, nil
	}
	startGRPC(t, "127.0.91.3:4317", r)
	cfg := smallConfig("127.0.91.3:4317") // 100 requests of 30 spans
	sum, err := Run(context.Background(), cfg, nil)
	require.NoError(t, err)

	assert.False(t, sum.OK())
	assert.Equal(t, Tally{Sent: 100, Accepted: 80, Refused: 20}, sum.Requests)
	assert.Equal(t, Tally{Sent: 3000, Accepted: 3000 - 20*30 - 10*4, Refused: 20*30 + 10*4}, sum.Spans)
	statuses := map[string]StatusCount{}
	for _, s := range sum.Statuses {
		statuses[s.Status] = s
	}
	assert.Equal(t, StatusCount{Status: "Unavailable", Refused: true, Requests: 10, Spans: 300, Message: "data refused due to high memory usage"}, statuses["Unavailable"])
	assert.Equal(t, StatusCount{Status: "ResourceExhausted", Refused: true, Requests: 10, Spans: 300, Message: "sending queue is full"}, statuses["ResourceExhausted"])
	assert.Equal(t, StatusCount{Status: "PartialSuccess", Refused: true, Requests: 10, Spans: 40, Message: "4 spans too old"}, statuses["PartialSuccess"])
	assert.Contains(t, sum.Problem(), "127.0.91.3:4317 refused 30 requests (PartialSuccess, ResourceExhausted, Unavailable)")
}

func TestRunHTTPNamesTheStatusCode(t *testing.T) {
	r := newReceived()
	r.answer = func(n int, _ ptrace.Traces) (ptraceotlp.ExportResponse, error) {
		if n%2 == 0 {
			return ptraceotlp.NewExportResponse(), errors.New("data refused due to high memory usage")
		}
		return ptraceotlp.NewExportResponse(), nil
	}
	startHTTP(t, "127.0.91.4:4318", r)
	cfg := smallConfig("127.0.91.4:4318")
	cfg.Protocol = HTTP
	cfg.Count = 300
	sum, err := Run(context.Background(), cfg, nil)
	require.NoError(t, err)
	assert.Equal(t, Tally{Sent: 10, Accepted: 5, Refused: 5}, sum.Requests)
	require.Len(t, sum.Statuses, 1)
	assert.Equal(t, StatusCount{Status: "HTTP 503", Refused: true, Requests: 5, Spans: 150, Message: "data refused due to high memory usage"}, sum.Statuses[0])
}

func TestRunUnreachableEndpointFailsFastNamingIt(t *testing.T) {
	for _, proto := range []Protocol{GRPC, HTTP} {
		cfg := smallConfig("127.0.91.5:4317") // nothing listens there
		cfg.Protocol = proto
		start := time.Now()
		_, err := Run(context.Background(), cfg, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cannot reach 127.0.91.5:4317")
		assert.Contains(t, err.Error(), "connection refused")
		assert.Less(t, time.Since(start), cfg.DialTimeout)
	}
}

func TestRunCollectorThatNeverAnswersFailsEachRequestAtTheTimeout(t *testing.T) {
	r := newReceived()
	release := make(chan struct{})
	r.answer = func(int, ptrace.Traces) (ptraceotlp.ExportResponse, error) {
		<-release
		return ptraceotlp.NewExportResponse(), nil
	}
	startGRPC(t, "127.0.91.6:4317", r)
	t.Cleanup(func() { close(release) })
	cfg := smallConfig("127.0.91.6:4317")
	cfg.Count = 0
	cfg.Duration = 100 * time.Millisecond
	cfg.ExportTimeout = 300 * time.Millisecond
	cfg.Conns, cfg.Inflight = 1, 2
	start := time.Now()
	sum, err := Run(context.Background(), cfg, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second, "bounded by duration + timeout")
	assert.Equal(t, Tally{Sent: 2, Failed: 2}, sum.Requests)
	require.Len(t, sum.Statuses, 1)
	assert.Equal(t, "DeadlineExceeded", sum.Statuses[0].Status)
	assert.False(t, sum.Statuses[0].Refused)
	assert.Contains(t, sum.Problem(), "failed (no answer) 2 requests (DeadlineExceeded)")
}

func TestRunStopsOnCancelAndReportsWhatWasSent(t *testing.T) {
	r := newReceived()
	startGRPC(t, "127.0.91.7:4317", r)
	cfg := smallConfig("127.0.91.7:4317")
	cfg.Count = 0
	cfg.Duration = time.Minute
	cfg.Rate = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sum, err := Run(ctx, cfg, nil)
	require.NoError(t, err)
	assert.Less(t, sum.Seconds, 5.0)
	assert.True(t, sum.OK())
	assert.EqualValues(t, r.count(), sum.Spans.Accepted)
}

func TestConfigValidateNamesEveryBadField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Endpoint = "localhost"
	cfg.Protocol = "udp"
	cfg.Rate = -1
	cfg.Duration = 0
	cfg.Count = 0
	cfg.Conns = 0
	cfg.ExportTimeout = 0
	err := cfg.Validate()
	for _, want := range []string{
		`endpoint: "localhost" is not host:port`,
		`protocol: "udp" is not grpc or http`,
		"rate: must be a positive number of spans per second, or max (got -1)",
		"a run is bounded",
		"conns: must be at least 1 (got 0)",
		"timeout: must be positive (got 0s)",
	} {
		assert.ErrorContains(t, err, want)
	}
	cfg = DefaultConfig()
	cfg.Count = 750
	assert.EqualError(t, cfg.Validate(), fmt.Sprintf("count: 750 spans is not a whole number of requests of %d spans (traces-per-request × spans-per-trace); try 1000", cfg.Shape.Spans()))
}
