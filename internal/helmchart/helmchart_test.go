package helmchart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeChart makes a minimal chart directory of a name and version.
func writeChart(t *testing.T, name, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Chart.yaml"),
		[]byte("apiVersion: v2\nname: "+name+"\nversion: "+version+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("who: world\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "cm.yaml"), []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
data:
  hello: {{ .Values.who }}
  pdb: {{ .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" | quote }}
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "NOTES.txt"), []byte("thanks"), 0o644))
	return dir
}

func TestLocateTakesTheEnvironmentsChartAndChecksItsVersion(t *testing.T) {
	t.Setenv(EnvChart, writeChart(t, Name, Version))
	c, path, err := Locate(t.TempDir(), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, os.Getenv(EnvChart), path)
	assert.Equal(t, Version, c.Metadata.Version)

	t.Setenv(EnvChart, writeChart(t, Name, "0.169.0"))
	_, _, err = Locate(t.TempDir(), t.TempDir())
	assert.ErrorContains(t, err, "is chart opentelemetry-collector 0.169.0, want opentelemetry-collector 0.170.0")
}

func TestLocateFindsTheSharedCopyBesideTheRepository(t *testing.T) {
	t.Setenv(EnvChart, "")
	parent := t.TempDir()
	root := filepath.Join(parent, "repo")
	require.NoError(t, os.MkdirAll(root, 0o755))
	shared := filepath.Join(root, SharedDir)
	require.NoError(t, os.MkdirAll(filepath.Dir(shared), 0o755))
	require.NoError(t, os.Rename(writeChart(t, Name, Version), shared))
	_, path, err := Locate(root, t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, shared, path)
}

func TestRenderIsHelmTemplateForACurrentCluster(t *testing.T) {
	c, err := load(writeChart(t, Name, Version))
	require.NoError(t, err)
	values := filepath.Join(t.TempDir(), "v.yaml")
	require.NoError(t, os.WriteFile(values, []byte("who: tiers\n"), 0o644))
	docs, err := Render(c, "rel", "ns", nil, values)
	require.NoError(t, err)
	require.Len(t, docs, 1, "the ConfigMap, not the notes")
	assert.Contains(t, string(docs[0]), "name: rel\n  namespace: ns\n")
	assert.Contains(t, string(docs[0]), "hello: tiers", "the values file wins over the chart's")
	assert.Contains(t, string(docs[0]), `pdb: "true"`, "policy/v1 is served")

	require.NoError(t, os.WriteFile(values, []byte("who: [unterminated\n"), 0o644))
	_, err = Render(c, "rel", "ns", nil, values)
	assert.Error(t, err)
}
