package pins

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var release = Release{Version: "0.159.0", Stable: "1.65.0"}

func TestFromMakefile(t *testing.T) {
	r, err := FromMakefile([]byte("X := 1\nOTELCOL_VERSION        := 0.159.0\nOTELCOL_STABLE_VERSION := 1.65.0\n"))
	require.NoError(t, err)
	assert.Equal(t, release, r)

	_, err = FromMakefile([]byte("OTELCOL_VERSION := 0.159.0\n"))
	assert.ErrorContains(t, err, "OTELCOL_STABLE_VERSION")
}

func TestCheckFlagsModulesAtAnotherRelease(t *testing.T) {
	gomod := []byte(`module x
require (
	go.opentelemetry.io/collector/component v1.65.0
	go.opentelemetry.io/collector/processor/processorhelper v0.159.0
	go.opentelemetry.io/collector/pdata/pprofile v0.160.0
	github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage v0.161.0
	github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter v0.159.0
	golang.org/x/net v0.57.0
)`)
	err := Check(release, "go.mod", gomod)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pdata/pprofile v0.160.0")
	assert.Contains(t, err.Error(), "filestorage v0.161.0")
	assert.NotContains(t, err.Error(), "loadbalancingexporter")
	assert.NotContains(t, err.Error(), "x/net")
}

// The repository's own go.mod must agree with the Makefile's pin.
func TestRepositoryGoModAtPinnedRelease(t *testing.T) {
	root := filepath.Join("..", "..")
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	r, err := FromMakefile(mk)
	require.NoError(t, err)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.NoError(t, Check(r, "go.mod", gomod))
}
