package compose

import (
	"context"
	"path/filepath"
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
