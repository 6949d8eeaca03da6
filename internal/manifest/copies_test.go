package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

func TestCopiesAreWrittenAndStaleOnesNamed(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, path)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, path), []byte(text), 0o644))
	}
	src := "# the tier\nreceivers:\n  otlp:\n\n    protocols: {grpc: {endpoint: \"${env:POD_IP:-127.0.0.1}:4317\"}}\n"
	write("configs/t.yaml", src)
	marker := fmt.Sprintf(Marker, "configs/t.yaml")
	write("helm/values.yaml", "mode: daemonset\n"+marker+"\nalternateConfig: {old: true}\n")
	copies := []Copy{
		{Source: "configs/t.yaml", Dest: "k/t.yaml"},
		{Source: "configs/t.yaml", Dest: "helm/values.yaml", ValuesKey: "alternateConfig"},
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "k"), 0o755))

	err := Stale(root, copies)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "k/t.yaml is not the copy of configs/t.yaml: run `make k8s-configs`")
	assert.Contains(t, err.Error(), "helm/values.yaml is not the copy")

	changed, err := Write(root, copies)
	require.NoError(t, err)
	assert.Equal(t, []string{"k/t.yaml", "helm/values.yaml"}, changed)
	require.NoError(t, Stale(root, copies))
	changed, err = Write(root, copies)
	require.NoError(t, err)
	assert.Empty(t, changed, "nothing to do the second time")

	got, err := os.ReadFile(filepath.Join(root, "k/t.yaml"))
	require.NoError(t, err)
	assert.Equal(t, src, string(got), "a plain copy is byte for byte")

	// The values file keeps its head, and its key holds the config itself.
	b, err := os.ReadFile(filepath.Join(root, "helm/values.yaml"))
	require.NoError(t, err)
	var values, config map[string]any
	require.NoError(t, yaml.Unmarshal(b, &values))
	require.NoError(t, yaml.Unmarshal([]byte(src), &config))
	assert.Equal(t, "daemonset", values["mode"])
	assert.Equal(t, config, values["alternateConfig"])

	// A values file whose marker is gone is an error, not overwritten.
	write("helm/values.yaml", "mode: daemonset\n")
	_, err = Write(root, copies)
	assert.ErrorContains(t, err, "helm/values.yaml: no line")
}

func TestGoMemLimitIsEightyPercentInWholeMiB(t *testing.T) {
	for limit, want := range map[int64]string{
		512 << 20: "409MiB", 4 << 30: "3276MiB", 256 << 20: "204MiB", 2 << 30: "1638MiB", 1 << 30: "819MiB", 1000: "0MiB",
	} {
		assert.Equal(t, want, GoMemLimit(limit), "limit %d", limit)
	}
}
