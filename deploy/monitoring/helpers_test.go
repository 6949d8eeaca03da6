package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// The tests run in deploy/monitoring.
var repoRoot = filepath.Join("..", "..")

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	require.NoError(t, err)
	return b
}

// rulesFile is the part of a Prometheus rules file the tests read.
type rulesFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func loadRules(t *testing.T) rulesFile {
	t.Helper()
	var rf rulesFile
	require.NoError(t, yaml.UnmarshalStrict(readFile(t, RulesFile), &rf), RulesFile)
	require.NotEmpty(t, rf.Groups)
	return rf
}

// promtool finds promtool (Debian's prometheus package; .ci/run installs
// it). A missing promtool fails the test: the alerts would go untested.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH: install Debian's prometheus package (apt-get install prometheus; .ci/run does) to test the alerts: %v", err)
	}
	return path
}
