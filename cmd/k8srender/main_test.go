package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunWritesEachOverlay(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, run(filepath.Join("..", "..", "deploy", "k8s"), out))
	for overlay, kind := range map[string]string{
		"agent": "kind: DaemonSet", "gateway": "kind: StatefulSet", "hybrid": "kind: HorizontalPodAutoscaler",
		"hybrid-dns": "kind: PodDisruptionBudget", "sidecar": "kind: Pod", "operator": "kind: OpenTelemetryCollector",
	} {
		b, err := os.ReadFile(filepath.Join(out, overlay+".yaml"))
		require.NoError(t, err)
		assert.Contains(t, string(b), kind, overlay)
	}
	assert.ErrorContains(t, run(t.TempDir(), out), "overlays")
}
