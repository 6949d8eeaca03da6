package monitoring

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// The PrometheusRule and the dashboard in the repository are what the
// sources render to (run `make monitoring` after changing them).
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	files, err := Generate(repoRoot)
	require.NoError(t, err)
	assert.Len(t, files, 4)
	for path, want := range files {
		assert.Equal(t, string(want), string(readFile(t, path)), "%s is not what `make monitoring` renders", path)
	}
}

// The PrometheusRule holds the rules file's groups, nothing else.
func TestPrometheusRuleHoldsTheRulesFile(t *testing.T) {
	var rules map[string]any
	require.NoError(t, yaml.Unmarshal(readFile(t, RulesFile), &rules))
	var pr struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	for _, path := range []string{PrometheusRuleFile, filepath.Join(ComponentDir, "prometheusrule.yaml")} {
		require.NoError(t, yaml.UnmarshalStrict(readFile(t, path), &pr), path)
		assert.Equal(t, "monitoring.coreos.com/v1", pr.APIVersion)
		assert.Equal(t, "PrometheusRule", pr.Kind)
		assert.Equal(t, PrometheusRuleName, pr.Metadata["name"])
		assert.Equal(t, rules, pr.Spec, "%s: spec is the rules file", path)
	}
}

func TestPrometheusRuleRefusesWhatIsNotARulesFile(t *testing.T) {
	_, err := PrometheusRule([]byte("# header\nrule_files: []\n"))
	assert.ErrorContains(t, err, `line 2: want only comments before the top-level groups: key, got "rule_files: []"`)
	_, err = PrometheusRule([]byte("# only a comment\n"))
	assert.ErrorContains(t, err, "no top-level groups: key")
}
