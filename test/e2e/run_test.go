package e2e

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// `make run` (cmd/tieredrun) with a port already taken fails with a message
// naming the port and leaves no collector behind.
func TestRunWithPortTakenNamesItAndLeavesNothing(t *testing.T) {
	bin := testbed.Binary(t)
	runner := filepath.Join(t.TempDir(), "tieredrun")
	build := exec.Command("go", "build", "-o", runner, "./cmd/tieredrun")
	build.Dir = testbed.RepoRoot()
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	// Gateway 2's self-telemetry port: the sink and gateway 1 would start
	// before it, so a late check would leave them running.
	taken, err := net.Listen("tcp", "127.0.2.12:8888")
	require.NoError(t, err)
	defer taken.Close()

	cmd := exec.Command(runner, "-bin", bin, "-net", "127.0.2", "-workdir", t.TempDir(),
		"-configs", filepath.Join(testbed.RepoRoot(), "configs"))
	out, err = cmd.CombinedOutput()
	require.Error(t, err, string(out))
	assert.Contains(t, string(out), "port 127.0.2.12:8888 (self-telemetry of gateway-2) is already in use")

	// Nothing of the planned topology is listening.
	topo, err := localtopo.Plan(localtopo.Options{Net: "127.0.2", Gateways: 3})
	require.NoError(t, err)
	require.NoError(t, taken.Close())
	assert.NoError(t, localtopo.CheckPortsFree(topo.Members()))
}
