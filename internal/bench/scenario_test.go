package bench

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

func readList(t *testing.T, file string, path ...string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	list, err := listAt(doc, path)
	require.NoError(t, err)
	return list
}

// The configuration without stickycheck is the shipped gateway's pipeline
// with stickycheck taken out, whatever else the shipped list holds.
func TestGatewayWithoutStickycheckIsTheShippedPipelineMinusIt(t *testing.T) {
	root := testbed.RepoRoot()
	s, ok := ScenarioByName("gateway-nostickycheck")
	require.True(t, ok)
	files, err := s.ConfigFiles(root, t.TempDir())
	require.NoError(t, err)
	require.Len(t, files, 2)
	assert.Equal(t, filepath.Join(root, "configs", "gateway.yaml"), files[0])

	shipped := readList(t, files[0], tracesProcessors...)
	require.Contains(t, shipped, "stickycheck")
	want := slices.DeleteFunc(slices.Clone(shipped), func(p string) bool { return p == "stickycheck" })
	assert.Equal(t, want, readList(t, files[1], tracesProcessors...))
}

func TestWithPprofAddsTheExtensionToTheShippedList(t *testing.T) {
	root := testbed.RepoRoot()
	s, _ := ScenarioByName("gateway")
	files, err := s.WithPprof().ConfigFiles(root, t.TempDir())
	require.NoError(t, err)
	require.Len(t, files, 3)
	assert.Equal(t, filepath.Join(root, "bench", "configs", "pprof.yaml"), files[1])
	shipped := readList(t, files[0], "service", "extensions")
	assert.Equal(t, append(shipped, "pprof"), readList(t, files[2], "service", "extensions"))
}

func TestStaleEditNamesWhatIsMissing(t *testing.T) {
	s := Scenario{Name: "stale", Base: "configs/gateway.yaml", Edits: []ListEdit{{Path: tracesProcessors, Remove: []string{"no_such_processor"}}}}
	_, err := s.ConfigFiles(testbed.RepoRoot(), t.TempDir())
	assert.ErrorContains(t, err, `service::pipelines::traces::processors has no "no_such_processor" to remove`)
	assert.ErrorContains(t, err, "scenario stale is stale")
}

func TestEveryScenarioFileExists(t *testing.T) {
	root := testbed.RepoRoot()
	names := map[string]bool{}
	for _, s := range AllScenarios() {
		assert.False(t, names[s.Name], "names are unique")
		names[s.Name] = true
		files, err := s.ConfigFiles(root, t.TempDir())
		require.NoError(t, err, s.Name)
		for _, f := range files {
			assert.FileExists(t, f)
		}
	}
	assert.Equal(t, "null", Scenarios()[0].Name, "the null pipeline comes first: the others are related to it")
}

// Each tier's scenarios get the Go runtime settings of its shipped workload,
// so the bench measures what the manifests run.
func TestScenariosTakeTheirWorkloadsGoSettings(t *testing.T) {
	root := testbed.RepoRoot()
	for _, name := range []string{"gateway", "agent", "sidecar"} {
		s, ok := ScenarioByName(name)
		require.True(t, ok)
		env, err := s.GoEnv(root)
		require.NoError(t, err, name)
		assert.NotEmpty(t, env["GOMEMLIMIT"], "%s: the workload %s sets GOMEMLIMIT", name, s.GoEnvFrom)
	}
	s, _ := ScenarioByName("gateway-default-gc")
	env, err := s.GoEnv(root)
	require.NoError(t, err)
	assert.Empty(t, env, "the Go defaults")
	_, err = Scenario{GoEnvFrom: "no/such/workload.yaml"}.GoEnv(root)
	assert.Error(t, err)
}
