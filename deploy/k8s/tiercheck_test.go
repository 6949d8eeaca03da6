package k8s_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The tier configs, as each pod sees them, pass the topology extension's
// offline rule check: `go run ./cmd/tiercheck --role <tier> --workload
// <kind> <config>`, which resolves ${env:...} from its own environment (the
// pod's, here) and exits non-zero on an error finding; the workload kind is
// the manifest's (an agent must be a DaemonSet). cmd/tiercheck comes with
// issue 6.
func TestTierConfigsPassTheTopologyRuleCheck(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "tiercheck")); err != nil {
		t.Fatalf("cmd/tiercheck is not in this tree (%v): the topology extension's offline rule check comes with issue 6; "+
			"this test runs it on every tier config of the manifests and cannot pass without it", err)
	}
	bin := filepath.Join(t.TempDir(), "tiercheck")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tiercheck")
	build.Dir = repoRoot
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/tiercheck: %s", out)

	checked := 0
	for _, pc := range podCases(t) {
		if pc.role == "" {
			continue // the operator's collector plays no tier
		}
		t.Run(pc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), pc.role+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(pc.text), 0o600))
			cmd := exec.Command(bin, "--role", pc.role, "--workload", pc.kind, file)
			cmd.Env = envList(pc.env)
			var output bytes.Buffer
			cmd.Stdout, cmd.Stderr = &output, &output
			require.NoError(t, cmd.Run(), "tiercheck --role %s --workload %s (%s, with its pod's environment):\n%s", pc.role, pc.kind, pc.name, output.String())
			t.Logf("tiercheck --role %s:\n%s", pc.role, output.String())
		})
		checked++
	}
	require.Equal(t, 5, checked, "hybrid (agent, gateway), hybrid-dns (agent, gateway), sidecar")
}
