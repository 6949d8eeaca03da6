package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

func TestShippedConfigsValidate(t *testing.T) {
	bin := testbed.Binary(t)
	configs, err := filepath.Glob(filepath.Join(testbed.RepoRoot(), "configs", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, configs)
	for _, c := range configs {
		t.Run(filepath.Base(c), func(t *testing.T) {
			cmd := exec.Command(bin, "validate", "--config", c)
			// The gateway's peer token, as a pod gets it from its Secret.
			cmd.Env = append(os.Environ(), localtopo.PeerTokenEnv+"=validate")
			out, err := cmd.CombinedOutput()
			require.NoErrorf(t, err, "validate %s:\n%s", c, out)
		})
	}
}

// A config with an unknown component or a wrong field fails validate and
// startup with the collector's own message naming it.
func TestBadConfigsFailValidateAndStartup(t *testing.T) {
	bin := testbed.Binary(t)
	cases := map[string]string{
		"unknown-component.yaml":     `unknown type: "no_such_processor"`,
		"wrong-field.yaml":           "has invalid keys: decision_wiat",
		"topology-unknown-role.yaml": `extensions::topology: role: unknown role "collector", want one of agent, gateway, sidecar`,
		"topology-bad-endpoint.yaml": `extensions::topology: endpoint: "127.0.60.30" is not host:port`,
		"topology-bad-table.yaml":    "extensions::topology::sizing::table: [0]::memory_limit: 512Mi is below memory_request 1Gi",
		// Issue 16's config edges, each named once (README "Bad input tried").
		"stickycheck-window-no-unit.yaml":        "processors::stickycheck: audit::window: 30ns is below the minimum 100ms: the unit is missing",
		"stickycheck-max-traces-huge.yaml":       "processors::stickycheck: audit::max_traces: must be between 1 and 16777216 (682.7 MiB of table), got 1e+20",
		"stickycheck-max-traces-fraction.yaml":   "processors::stickycheck: audit::max_traces: 1.5 is not a whole number of traces",
		"stickycheck-window-below-grace.yaml":    "processors::stickycheck: audit::window: 10s is shorter than grace 30s",
		"stickycheck-peer-port-is-otlp.yaml":     "processors::stickycheck: audit::peer::port: 4317 is the port of self (127.0.60.40:4317), the OTLP port the agents send spans to",
		"stickycheck-empty-static-member.yaml":   "processors::stickycheck: resolver::static::hostnames[1]: empty member name",
		"stickycheck-dns-port-abc.yaml":          `processors::stickycheck: resolver::dns::port: "abc" is not a port number (1 to 65535)`,
		"stickycheck-k8s-port-negative.yaml":     "processors::stickycheck: resolver::k8s::ports[0]: must be a port from 1 to 65535, got -1",
		"stickycheck-dns-interval-negative.yaml": "processors::stickycheck: resolver::dns::interval: must not be negative, got -5s",
	}
	for file, want := range cases {
		path := filepath.Join(testbed.RepoRoot(), "testdata", "bad-configs", file)
		t.Run("validate/"+file, func(t *testing.T) {
			out, err := exec.Command(bin, "validate", "--config", path).CombinedOutput()
			require.Errorf(t, err, "validate accepted %s:\n%s", file, out)
			assert.Contains(t, string(out), want)
			assert.Equal(t, 1, strings.Count(string(out), want), "the error once:\n%s", out)
		})
		t.Run("startup/"+file, func(t *testing.T) {
			out, err := runToExit(t, exec.Command(bin, "--config", path), 60*time.Second)
			require.Error(t, err)
			assert.Contains(t, out, want)
		})
	}
}

// runToExit runs the collector and returns its output once it exits on its
// own; it fails the test if the collector is still running after timeout.
func runToExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (string, error) {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
		return string(out), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("collector still running after %s:\n%s", timeout, out)
		return "", nil
	}
}
