package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func root(parts ...string) string { return filepath.Join(append([]string{"..", ".."}, parts...)...) }

func tiercheck(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestShippedConfigsPass(t *testing.T) {
	code, out, errOut := tiercheck(root("configs", "agent.yaml"), root("configs", "gateway.yaml"), root("configs", "sidecar.yaml"))
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "agent.yaml (agent): ok\n")
	assert.Contains(t, out, "gateway.yaml (gateway): ok\n")
	assert.Contains(t, out, "sidecar.yaml (sidecar): ok\n")
	assert.Contains(t, out, "3 config(s) checked: no findings\n")
}

func TestErrorFindingsExitOne(t *testing.T) {
	code, out, errOut := tiercheck(root("testdata", "tierrules", "gateway-without-health-check.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "error  gateway-without-health-check  service::extensions has no health_check")
	assert.Contains(t, errOut, "tiercheck: error-level findings: exit status 1")

	// Warnings alone pass.
	code, out, _ = tiercheck(root("testdata", "tierrules", "batch-missing.yaml"))
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "1 config(s) checked: 1 warning\n")
}

// The config is read as a pod with this environment would see it.
func TestEnvironmentIsExpanded(t *testing.T) {
	t.Setenv("NUM_TRACES", "2000")
	code, out, _ := tiercheck("--traces-per-second", "500", "--format", "json", root("configs", "gateway.yaml"))
	assert.Equal(t, 1, code)
	var results []result
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, 1)
	assert.Equal(t, "gateway", string(results[0].Role))
	require.Len(t, results[0].Findings, 1)
	assert.Equal(t, "tail-sampling-num-traces-too-small", results[0].Findings[0].Rule)
	assert.Contains(t, results[0].Findings[0].Message, "num_traces 2000 < 5000")
}

func TestRoleFlagOverridesTheConfig(t *testing.T) {
	code, out, _ := tiercheck("--role", "agent", root("configs", "gateway.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "gateway.yaml (agent): ")
	assert.Contains(t, out, "tail-sampling-outside-gateway")
	assert.Contains(t, out, "stickycheck-outside-gateway")
}

func TestWorkloadFlag(t *testing.T) {
	code, _, _ := tiercheck("--workload", "DaemonSet", root("configs", "agent.yaml"))
	assert.Equal(t, 0, code)
	code, out, _ := tiercheck("--workload", "Deployment", root("configs", "agent.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "receiver file_log reads /var/log/pods but this collector runs as a Deployment")
}

func TestBadInputExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{root("configs", "sink.yaml")}, "no role: the service runs no topology extension with a role; give --role"},
		{[]string{"--role", "collector", root("configs", "sink.yaml")}, `role: unknown role "collector"`},
		{[]string{"--format", "xml", root("configs", "agent.yaml")}, `--format: unknown "xml"`},
		{[]string{"no-such.yaml"}, "no-such.yaml"},
		{nil, "usage: tiercheck"},
	} {
		code, _, errOut := tiercheck(tc.args...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errOut, tc.want)
	}
}

func TestListRules(t *testing.T) {
	code, out, _ := tiercheck("--rules")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "agent-not-daemonset (error; agent)\n")
	assert.Contains(t, out, "  needs: --traces-per-second\n")
}

// --queue-volume takes a Kubernetes quantity; the shipped gateway's queues
// fit its 5Gi claim and not a 2Gi one; a size that is none is refused.
func TestQueueVolume(t *testing.T) {
	code, out, errOut := tiercheck("--queue-volume", "5Gi", root("configs", "gateway.yaml"))
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "gateway.yaml (gateway): ok\n")
	code, out, _ = tiercheck("--queue-volume", "2Gi", root("configs", "gateway.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "persistent-queue-exceeds-volume")
	for _, bad := range []string{"five", "-1Gi", "0"} {
		code, _, errOut = tiercheck("--queue-volume", bad, root("configs", "gateway.yaml"))
		assert.Equal(t, 2, code, bad)
		assert.Contains(t, errOut, "--queue-volume: \""+bad+"\" is not a size in bytes", bad)
	}
}
