package stickycheckprocessor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/table"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/wire"
)

func TestAdmissionBoundsRequestsInTotalAndPerHost(t *testing.T) {
	a := newAdmission(PeerLimits{MaxConcurrentRequests: 3, MaxConcurrentRequestsPerHost: 2})
	require.True(t, a.acquire("10.0.0.1"))
	require.True(t, a.acquire("10.0.0.1"))
	assert.False(t, a.acquire("10.0.0.1"), "per host")
	require.True(t, a.acquire("10.0.0.2"))
	assert.False(t, a.acquire("10.0.0.3"), "in total")
	a.release("10.0.0.1")
	assert.True(t, a.acquire("10.0.0.3"))
	a.release("10.0.0.1")
	a.release("10.0.0.2")
	a.release("10.0.0.3")
	assert.Zero(t, a.inflight)
	assert.Empty(t, a.byHost, "no host left behind")
}

func TestRejectionsAreWarnedAtMostOnceAReasonPerInterval(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	clk := newFakeClock()
	l := newRejectLog(zap.New(core), clk.now)
	for range 1000 {
		l.log(wire.RejectUnauthenticated, 401, "missing header")
	}
	l.log(rejectTimeout, 408, "slow")
	require.Equal(t, 2, logs.Len(), "one per reason")
	clk.advance(rejectLogEvery)
	l.log(wire.RejectUnauthenticated, 401, "missing header")
	entries := logs.All()
	require.Len(t, entries, 3)
	assert.EqualValues(t, 999, entries[2].ContextMap()["rejected_since_last_warning"])
	assert.Equal(t, zapcore.WarnLevel, entries[2].Level)
}

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	assert.EqualValues(t, 1<<30, containerMemoryLimit([]string{filepath.Join(dir, "none"), file("v2", "1073741824\n")}))
	assert.Zero(t, containerMemoryLimit([]string{file("max", "max\n")}))
	assert.Zero(t, containerMemoryLimit([]string{file("v1", "9223372036854771712\n")}), "cgroup v1's no limit")
	assert.Zero(t, containerMemoryLimit(nil))
}

func TestTableMemoryIsLoggedAndCheckedAgainstTheContainerLimit(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	require.NoError(t, checkTableMemory(zap.New(core), 500_000, 1<<30))
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, "20.3 MiB", logs.All()[0].ContextMap()["size"])
	assert.Equal(t, "1.0 GiB", logs.All()[0].ContextMap()["container_memory_limit"])

	err := checkTableMemory(zap.NewNop(), 16_000_000, 1<<30)
	require.EqualError(t, err, "audit::max_traces: 16000000 traces take 651.0 MiB, more than 25 % of the container's memory limit 1.0 GiB (cgroup); lower max_traces (new traces a second × window) or raise the limit")
	assert.NoError(t, checkTableMemory(zap.NewNop(), 16_000_000, 0), "no limit known")
}

// The table allocates what tableBytes says (the number logged at start),
// within the few per cent of room the shards get for uneven spread.
func TestTableBytesIsWhatTheTableAllocates(t *testing.T) {
	const n = 1_000_000
	got := int64(table.New(n, time.Minute, time.Now()).Bytes())
	assert.InEpsilon(t, tableBytes(n), got, 0.03, "tableBytes %d, allocated %d", tableBytes(n), got)
}

func TestAnOpenPeerServerIsWarnedAboutAtStart(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	cfg := defaultAuditConfig()
	warnIfOpen(zap.New(core), &cfg.Peer.Server, "10.0.0.1:4319")
	require.Equal(t, 1, logs.Len())
	assert.Contains(t, logs.All()[0].Message, "stickycheck peer server has no authentication")

	_, id := bearerHost(t, "s3cret")
	authed := &Config{Audit: configoptional.Some(cfg)}
	withBearer(id)(authed)
	warnIfOpen(zap.New(core), &authed.Audit.Get().Peer.Server, "10.0.0.1:4319")
	assert.Equal(t, 1, logs.Len(), "no warning with auth")
}
