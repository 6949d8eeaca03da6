package distro

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const manifest = `dist:
  name: otelcol-x
  description: X
  output_path: ./build/otelcol-x
  module: example.com/x/build/otelcol-x
  build_tags: grpcnotrace
receivers:
  - gomod: example.com/otlpreceiver v1.0.0
  - gomod: example.com/filelogreceiver v1.0.0
processors:
  - gomod: example.com/batchprocessor v1.0.0
  - gomod: example.com/x v0.0.0
    import: example.com/x/processor/checkprocessor
exporters:
  - gomod: example.com/otlpexporter v1.0.0
  # the debug exporter
  - gomod: example.com/debugexporter v1.0.0
connectors:
  - gomod: example.com/forwardconnector v1.0.0
extensions:
  - gomod: example.com/x v0.0.0
    import: example.com/x/extension/topoextension
replaces:
  - example.com/x => ../..
`

const components = `buildinfo: {command: otelcol-x}
receivers:
  - {name: otlp, module: example.com/otlpreceiver v1.0.0}
  - {name: file_log, module: example.com/filelogreceiver v1.0.0}
processors:
  - {name: batch, module: example.com/batchprocessor v1.0.0}
  - {name: check, module: example.com/x v0.0.0}
exporters:
  - {name: otlp_grpc, module: example.com/otlpexporter v1.0.0}
  - {name: debug, module: example.com/debugexporter v1.0.0}
connectors:
  - {name: forward, module: example.com/forwardconnector v1.0.0}
extensions:
  - {name: topo, module: example.com/x v0.0.0}
`

const config = `extensions:
  topo: {}
receivers:
  otlp: {}
processors:
  batch:
exporters:
  otlp_grpc/a: {endpoint: a:4317}
  otlp_grpc/b: {endpoint: b:4317}
service:
  extensions: [topo]
`

func plan(t *testing.T, tier Tier, cfg string) Plan {
	t.Helper()
	reg, err := ParseComponents([]byte(components))
	require.NoError(t, err)
	p, err := PlanTier(reg, "tiers.yaml", tier, []byte(cfg))
	require.NoError(t, err)
	return p
}

// A tier's manifest keeps exactly the entries of what its config declares
// and its extras ask for; dist names the tier; the rest passes through.
func TestTierManifestKeepsWhatTheTierUses(t *testing.T) {
	p := plan(t, Tier{Name: "small", Config: "small.yaml", Extras: map[string][]string{"exporters": {"debug"}}}, config)
	assert.Equal(t, map[string][]string{
		"receivers":  {"otlp"},
		"processors": {"batch"},
		"exporters":  {"debug", "otlp_grpc"},
		"extensions": {"topo"},
	}, p.Types)

	m, err := ParseManifest([]byte(manifest))
	require.NoError(t, err)
	out, err := m.Tier("small", "generated", p.Modules, nil)
	require.NoError(t, err)

	var got struct {
		Dist       map[string]string
		Receivers  []map[string]string
		Processors []map[string]string
		Exporters  []map[string]string
		Connectors []map[string]string
		Extensions []map[string]string
		Replaces   []string
	}
	require.NoError(t, yaml.Unmarshal(out, &got), string(out))
	assert.Equal(t, map[string]string{
		"name": "otelcol-x-small", "description": "X (small tier)", "output_path": "./build/otelcol-x-small",
		"module": "example.com/x/build/otelcol-x-small", "build_tags": "grpcnotrace",
	}, got.Dist)
	assert.Equal(t, []map[string]string{{"gomod": "example.com/otlpreceiver v1.0.0"}}, got.Receivers)
	// The processor of the repository's own module is not kept: only its extension is used.
	assert.Equal(t, []map[string]string{{"gomod": "example.com/batchprocessor v1.0.0"}}, got.Processors)
	assert.Equal(t, []map[string]string{{"gomod": "example.com/otlpexporter v1.0.0"}, {"gomod": "example.com/debugexporter v1.0.0"}}, got.Exporters)
	assert.Nil(t, got.Connectors, "no connector used: the kind is left out")
	assert.Equal(t, []map[string]string{{"gomod": "example.com/x v0.0.0", "import": "example.com/x/extension/topoextension"}}, got.Extensions)
	assert.Equal(t, []string{"example.com/x => ../.."}, got.Replaces)
	assert.True(t, strings.HasPrefix(string(out), "# generated\n"), string(out))
	assert.Contains(t, string(out), "# the debug exporter", "comments pass on")

	// The distribution's manifest itself is left as it was.
	again, err := m.Tier("other", "", map[string]map[string]bool{}, nil)
	require.NoError(t, err)
	assert.Contains(t, string(again), "name: otelcol-x-other\n")
}

func TestUnknownComponentsNameTheirField(t *testing.T) {
	reg, err := ParseComponents([]byte(components))
	require.NoError(t, err)
	_, err = PlanTier(reg, "tiers.yaml", Tier{Name: "s", Config: "s.yaml"}, []byte(strings.Replace(config, "  batch:\n", "  batch:\n  tail_sampling/x: {}\n", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `s.yaml: processors::tail_sampling/x: processor type "tail_sampling" is not in the distribution`)

	_, err = PlanTier(reg, "tiers.yaml", Tier{Name: "s", Config: "s.yaml", Extras: map[string][]string{"exporters": {"debug", "kafka"}}}, []byte(config))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tiers.yaml: tiers::s::extras::exporters[1]: exporter type "kafka" is not in the distribution`)
}

func TestParseTiersNamesTheField(t *testing.T) {
	for in, want := range map[string]string{
		"tiers: []":                             "tiers: no tier",
		"tiers: [{name: Side, config: c.yaml}]": `tiers[0]::name: "Side" is not a tier name`,
		"tiers: [{name: a, config: c.yaml}, {name: a, config: d}]": `tiers[1]::name: "a" twice`,
		"tiers: [{name: a}]": "tiers[0]::config: missing",
		"tiers: [{name: a, config: c, extras: {processor: [x]}}]": "tiers[0]::extras::processor: not a component kind",
		"tiers: [{name: a, config: c, extra: {}}]":                "field extra not found",
	} {
		_, err := ParseTiers("tiers.yaml", []byte(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
	tiers, err := ParseTiers("tiers.yaml", []byte("tiers: [{name: a, config: c.yaml, extras: {exporters: [debug]}}]"))
	require.NoError(t, err)
	assert.Equal(t, []Tier{{Name: "a", Config: "c.yaml", Extras: map[string][]string{"exporters": {"debug"}}}}, tiers)
}

func TestParseComponentsRejectsOtherOutput(t *testing.T) {
	_, err := ParseComponents([]byte("receivers: [{name: otlp}]\n"))
	assert.ErrorContains(t, err, "receivers[0]: want name and module")
	_, err = ParseComponents([]byte("hello: world\n"))
	assert.ErrorContains(t, err, "not the output of")
}

// Two processors of our own module: a tier using one keeps that one's
// entry only, its type read from the package's metadata.yaml.
func TestRefineLocalKeepsOnlyTheUsedPackageOfAModule(t *testing.T) {
	root := t.TempDir()
	for dir, typ := range map[string]string{"processor/checkprocessor": "check", "processor/guardprocessor": "guard", "extension/topoextension": "topo"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, dir), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, dir, "metadata.yaml"), []byte("type: "+typ+"\nstatus: {class: processor}\n"), 0o644))
	}
	withGuard := strings.Replace(manifest, "    import: example.com/x/processor/checkprocessor\n",
		"    import: example.com/x/processor/checkprocessor\n  - gomod: example.com/x v0.0.0\n    import: example.com/x/processor/guardprocessor\n", 1)
	m, err := ParseManifest([]byte(withGuard))
	require.NoError(t, err)
	reg, err := ParseComponents([]byte(strings.Replace(components, "  - {name: check, module: example.com/x v0.0.0}\n",
		"  - {name: check, module: example.com/x v0.0.0}\n  - {name: guard, module: example.com/x v0.0.0}\n", 1)))
	require.NoError(t, err)
	cfg := strings.Replace(config, "  batch:\n", "  batch:\n  guard:\n", 1)

	// Unrefined, the module's entries go together: check comes with guard.
	p, err := PlanTier(reg, "tiers.yaml", Tier{Name: "g", Config: "g.yaml"}, []byte(cfg))
	require.NoError(t, err)
	assert.Equal(t, []string{"batch", "check", "guard"}, p.Types["processors"])

	require.NoError(t, reg.RefineLocal(m, root))
	p, err = PlanTier(reg, "tiers.yaml", Tier{Name: "g", Config: "g.yaml"}, []byte(cfg))
	require.NoError(t, err)
	assert.Equal(t, []string{"batch", "guard"}, p.Types["processors"])
	assert.Equal(t, []string{"topo"}, p.Types["extensions"])
	out, err := m.Tier("g", "", p.Modules, nil)
	require.NoError(t, err)
	assert.Contains(t, string(out), "import: example.com/x/processor/guardprocessor")
	assert.NotContains(t, string(out), "checkprocessor")
	assert.Contains(t, string(out), "import: example.com/x/extension/topoextension")

	// A package whose metadata.yaml names a type the binary does not register.
	require.NoError(t, os.WriteFile(filepath.Join(root, "processor/guardprocessor/metadata.yaml"), []byte("type: other\n"), 0o644))
	reg, err = ParseComponents([]byte(components))
	require.NoError(t, err)
	assert.ErrorContains(t, reg.RefineLocal(m, root), `type "other" is not registered by example.com/x v0.0.0`)
}
