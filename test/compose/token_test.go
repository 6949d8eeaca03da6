package compose

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Compose refuses the topology without the gateways' peer token, saying
// where it comes from; with one, the gateways get it. (`config` only reads
// the file: no engine needed, but the compose tool is.)
func TestComposeRequiresThePeerToken(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file := filepath.Join(testbed.RepoRoot(), "deploy", "compose", "docker-compose.yaml")
	c, err := testbed.NewCompose(ctx, uniqueName("token"), file, map[string]string{"STICKYCHECK_PEER_TOKEN": ""})
	require.NoError(t, err)
	out, err := c.Run(ctx, "config")
	require.Error(t, err, "compose accepted the topology without a peer token:\n%s", out)
	assert.Contains(t, string(out), "the gateways need a shared peer token; make compose-up generates build/peer-token")

	c.Env["STICKYCHECK_PEER_TOKEN"] = "sckp-test"
	out, err = c.Run(ctx, "config")
	require.NoError(t, err)
	assert.Contains(t, string(out), "STICKYCHECK_PEER_TOKEN: sckp-test")
}

// In a container with a memory limit, an audit table above a quarter of it
// stops the gateway at start, naming max_traces and the limit, before the
// table is allocated (2^24 traces would take 683 MiB of a 256 MiB container).
func TestImageRefusesAnAuditTableAboveTheMemoryLimit(t *testing.T) {
	requireDocker(t)
	img := image(t)
	start := time.Now()
	out, err := execDocker("run", "--rm", "--memory", "256m", "-e", "STICKYCHECK_PEER_TOKEN=sckp-test",
		"-e", "STICKYCHECK_MAX_TRACES=16000000", img, "--config", "/etc/otelcol-tiered/gateway.yaml")
	require.Error(t, err, out)
	assert.Contains(t, out, "audit::max_traces: 16000000 traces take 651.0 MiB, more than 25 % of the container's memory limit 256.0 MiB (cgroup)")
	t.Logf("refused after %.1fs: %s", time.Since(start).Seconds(), lastLine(out))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
