package compose

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

func execDocker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return string(out), err
}

// composeRestartPolicy reads the restart policy the compose file gives the
// collectors.
func composeRestartPolicy(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "deploy", "compose", "docker-compose.yaml"))
	require.NoError(t, err)
	var file struct {
		Services map[string]struct {
			Restart string `yaml:"restart"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &file))
	policy := file.Services["gateway"].Restart
	require.NotEmpty(t, policy, "the gateway service has no restart policy")
	for _, svc := range []string{"agent", "sink"} {
		require.Equal(t, policy, file.Services[svc].Restart, "restart policy of %s", svc)
	}
	return policy
}

// The image runs each tier from its config, as user 10001.
func TestImageRunsEachTier(t *testing.T) {
	requireDocker(t)
	img := image(t)
	out, err := execDocker("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{.Size}}", img)
	require.NoError(t, err, out)
	fields := strings.Fields(out)
	require.Len(t, fields, 3, out)
	assert.Equal(t, "10001:10001", fields[0], "image user")
	assert.Equal(t, `["/otelcol-tiered"]`, fields[1], "entrypoint")
	size, _ := strconv.ParseFloat(fields[2], 64)
	t.Logf("image %s: %.1f MB", img, size/1e6)
	for _, tier := range []string{"agent", "gateway", "sidecar"} {
		// The gateway requires its peer token (STICKYCHECK_PEER_TOKEN).
		out, err := execDocker("run", "--rm", "-e", "STICKYCHECK_PEER_TOKEN=validate", img, "validate", "--config", "/etc/otelcol-tiered/"+tier+".yaml")
		assert.NoErrorf(t, err, "validate %s in the image: %s", tier, out)
	}
}

// A missing or unreadable config, or none, stops the container at once with
// the collector's message; the compose restart policy retries a bounded
// number of times and leaves the container exited, its message in the logs.
func TestImageFailsFastOnBadConfig(t *testing.T) {
	requireDocker(t)
	img := image(t)
	policy := composeRestartPolicy(t)

	unreadable := filepath.Join(t.TempDir(), "gateway.yaml")
	raw, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "configs", "gateway.yaml"))
	require.NoError(t, err)
	// Readable by its owner only; the container runs as user 10001.
	require.NoError(t, os.WriteFile(unreadable, raw, 0o600))
	if os.Getuid() == 10001 {
		t.Fatal("the test runs as uid 10001, the image's user: the unreadable case would be readable")
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--config", "/etc/otelcol-tiered/gatway.yaml"}, "open /etc/otelcol-tiered/gatway.yaml: no such file or directory"},
		{"unreadable", []string{"-v", unreadable + ":/etc/otelcol-tiered/custom.yaml:ro", "--config", "/etc/otelcol-tiered/custom.yaml"}, "open /etc/otelcol-tiered/custom.yaml: permission denied"},
		{"none", nil, "at least one config flag must be provided"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Plain `docker run`: exits at once, non-zero, with the message.
			var runArgs, cmdArgs []string
			for i := 0; i < len(tc.args); i++ {
				if tc.args[i] == "-v" {
					runArgs = append(runArgs, tc.args[i], tc.args[i+1])
					i++
					continue
				}
				cmdArgs = append(cmdArgs, tc.args[i])
			}
			start := time.Now()
			out, err := execDocker(append(append(append([]string{"run", "--rm"}, runArgs...), img), cmdArgs...)...)
			var exit *exec.ExitError
			require.ErrorAsf(t, err, &exit, "docker run: %v\n%s", err, out)
			assert.Equal(t, 1, exit.ExitCode())
			assert.Contains(t, out, tc.want)
			t.Logf("exited %d after %.1fs: %s", exit.ExitCode(), time.Since(start).Seconds(), strings.TrimSpace(out))

			// With the compose file's restart policy: a bounded number of
			// restarts, then it stays down, the message in its logs.
			name := uniqueName("badconfig")
			out, err = execDocker(append(append(append([]string{"run", "-d", "--name", name, "--restart", policy}, runArgs...), img), cmdArgs...)...)
			require.NoError(t, err, out)
			t.Cleanup(func() { _, _ = execDocker("rm", "-f", name) })
			var state string
			require.Eventuallyf(t, func() bool {
				state, _ = execDocker("inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name)
				state = strings.TrimSpace(state)
				return strings.HasPrefix(state, "exited ") && !strings.HasSuffix(state, " 0")
			}, 60*time.Second, 200*time.Millisecond, "container with restart policy %s still not down: %s", policy, state)
			// Docker may still be about to restart it: it must settle exited.
			time.Sleep(3 * time.Second)
			state, _ = execDocker("inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name)
			fields := strings.Fields(state)
			require.Len(t, fields, 3, state)
			assert.Equal(t, "exited", fields[0], "state with restart policy %s", policy)
			restarts, _ := strconv.Atoi(fields[1])
			maxRestarts, _ := strconv.Atoi(policy[strings.LastIndex(policy, ":")+1:])
			assert.Equal(t, maxRestarts, restarts, "restarts under %s", policy)
			logs := testbed.Logs(context.Background(), name)
			assert.Equal(t, maxRestarts+1, strings.Count(logs, tc.want), "the message once per start:\n%s", logs)
		})
	}
}
