package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/bench"
	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// Every configuration `make bench` measures — shipped tier configs with the
// benchmark's overlays merged over them — is one the built collector
// accepts, so that a change to a shipped config cannot silently break the
// benchmark.
func TestBenchConfigurationsValidate(t *testing.T) {
	bin := testbed.Binary(t)
	root := testbed.RepoRoot()
	gateway, _ := bench.ScenarioByName("gateway")
	scenarios := append(bench.AllScenarios(), gateway.WithPprof())
	// The alternatives the README measures with `bench -compare gateway
	// -compare-overlay bench/configs/alt-….yaml`.
	alts, err := filepath.Glob(filepath.Join(root, "bench", "configs", "alt-*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, alts)
	for _, alt := range alts {
		s := gateway
		s.Name = strings.TrimSuffix(filepath.Base(alt), ".yaml")
		s.Overlays = append(s.Overlays, alt)
		scenarios = append(scenarios, s)
	}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			files, err := s.ConfigFiles(root, t.TempDir())
			require.NoError(t, err)
			args := []string{"validate"}
			for _, f := range files {
				args = append(args, "--config", f)
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), localtopo.PeerTokenEnv+"=validate") // the bench rig sets one too
			out, err := cmd.CombinedOutput()
			require.NoErrorf(t, err, "%v:\n%s", files, out)
		})
	}
}
