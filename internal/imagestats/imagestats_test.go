package imagestats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVmRSS(t *testing.T) {
	rss, err := VmRSS("/proc/self/status")
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20), "this test process holds more than 1 MiB")

	f := filepath.Join(t.TempDir(), "status")
	require.NoError(t, os.WriteFile(f, []byte("Name:\tx\nVmRSS:\t   46080 kB\nThreads:\t9\n"), 0o644))
	rss, err = VmRSS(f)
	require.NoError(t, err)
	assert.Equal(t, int64(45*mib), rss)
	require.NoError(t, os.WriteFile(f, []byte("Name:\tx\n"), 0o644))
	_, err = VmRSS(f)
	assert.ErrorContains(t, err, "no VmRSS")
}

func TestTableByTierImageFirst(t *testing.T) {
	rows := []Row{
		{Target: Target{Image: "otelcol-tiered", Arch: "amd64", Tier: "sidecar"}, SizeBytes: 160e6, RSS: []int64{90 * mib, 91 * mib, 89 * mib}},
		{Target: Target{Image: "otelcol-tiered-sidecar", Arch: "arm64", Tier: "sidecar"}, SizeBytes: 43e6},
		{Target: Target{Image: "otelcol-tiered-sidecar", Arch: "amd64", Tier: "sidecar"}, SizeBytes: 45e6, RSS: []int64{40 * mib, 42 * mib, 41 * mib}},
		{Target: Target{Image: "otelcol-tiered-agent", Arch: "amd64", Tier: "agent"}, SizeBytes: 90e6, RSS: []int64{60 * mib}},
	}
	lines := strings.Split(strings.TrimSpace(Table(rows)), "\n")
	require.Len(t, lines, 6)
	assert.Equal(t, "| `otelcol-tiered-agent` | amd64 | 90.0 MB | `agent.yaml` | 60.0 MiB (60.0–60.0) |", lines[2])
	assert.Equal(t, "| `otelcol-tiered-sidecar` | amd64 | 45.0 MB | `sidecar.yaml` | 41.0 MiB (40.0–42.0) |", lines[3])
	assert.Equal(t, "| `otelcol-tiered` | amd64 | 160.0 MB | `sidecar.yaml` | 90.0 MiB (89.0–91.0) |", lines[4])
	assert.Equal(t, "| `otelcol-tiered-sidecar` | arm64 | 43.0 MB | `sidecar.yaml` | not run here (another architecture) |", lines[5])
}

func TestUpdateReadme(t *testing.T) {
	f := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(f, []byte("# x\n<!-- images:table:begin -->\nold\n<!-- images:table:end -->\nafter\n"), 0o644))
	require.NoError(t, UpdateReadme(f, "new\n"))
	b, _ := os.ReadFile(f)
	assert.Equal(t, "# x\n<!-- images:table:begin -->\nnew\n<!-- images:table:end -->\nafter\n", string(b))
	require.NoError(t, os.WriteFile(f, []byte("# x\n"), 0o644))
	assert.ErrorContains(t, UpdateReadme(f, "new\n"), "no <!-- images:table:begin -->")
}
