package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// The built load generator against the built collector (the sink config):
// what loadgen reports as accepted is exactly what the sink wrote — every
// span of the traces its seed names, once — over gRPC and over HTTP.
func TestLoadgenCountsMatchWhatTheSinkReceived(t *testing.T) {
	dir := t.TempDir()
	sink := localtopo.Member{
		Name:    "sink",
		Config:  filepath.Join(testbed.RepoRoot(), "configs", "sink.yaml"),
		Host:    "127.0.90.20",
		Env:     map[string]string{"POD_IP": "127.0.90.20", "SINK_FILE": filepath.Join(dir, "sink.jsonl")},
		LogFile: filepath.Join(dir, "sink.log"),
	}
	proc, err := localtopo.StartProcess(context.Background(), testbed.Binary(t), sink)
	require.NoError(t, err)
	t.Cleanup(proc.Stop)

	runs := []struct {
		protocol, endpoint string
		seed               uint64
		spans              int
	}{
		{"grpc", sink.Addr(localtopo.PortOTLPGRPC), 9, 5000},
		{"http", sink.Addr(localtopo.PortOTLPHTTP), 10, 2000},
	}
	total := 0
	for _, r := range runs {
		sum := runLoadgen(t, "--protocol", r.protocol, "--endpoint", r.endpoint, "--seed", itoa(r.seed),
			"--count", itoa(uint64(r.spans)), "--rate", "20000", "--spans-per-trace", "5", "--traces-per-request", "50")
		require.Equal(t, loadgen.Tally{Sent: int64(r.spans), Accepted: int64(r.spans)}, sum.Spans, r.protocol)
		require.EqualValues(t, r.spans/5, sum.Traces)
		total += r.spans
	}

	got := waitForSinkSpans(t, sink.Env["SINK_FILE"], total, 60*time.Second)
	n := 0
	for _, spans := range got {
		n += len(spans)
	}
	assert.Equal(t, total, n, "the sink holds what loadgen reported accepted, no more")
	for _, r := range runs {
		for i := range uint64(r.spans / 5) {
			id := pcommon.TraceID(loadgen.TraceID(r.seed, i))
			spans := got[id]
			require.Lenf(t, spans, 5, "%s trace %d (%s)", r.protocol, i, id)
			distinct := map[pcommon.SpanID]bool{}
			for _, s := range spans {
				distinct[s.SpanID] = true
			}
			require.Lenf(t, distinct, 5, "%s trace %d: spans duplicated", r.protocol, i)
		}
	}
}

// An endpoint nobody listens on: a clear message and exit status 1, at once.
func TestLoadgenNamesAnUnreachableCollector(t *testing.T) {
	cmd := exec.Command(testbed.Loadgen(t), "--endpoint", "127.0.90.21:4317", "--count", "500")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, stderr.String(), "loadgen: cannot reach 127.0.90.21:4317")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func runLoadgen(t *testing.T, args ...string) loadgen.Summary {
	t.Helper()
	cmd := exec.Command(testbed.Loadgen(t), append(args, "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "loadgen %v: %s", args, stderr.String())
	var sum loadgen.Summary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum), stdout.String())
	return sum
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
