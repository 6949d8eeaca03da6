package distro

import (
	"bytes"
	"encoding/json"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// upstream returns the directory and version of a module as this
// repository's go.mod requires it (from the module cache).
func upstream(t *testing.T, module string) (dir, version, sum string) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	require.NoError(t, err, "go mod download %s", module)
	var info struct{ Dir, Version, Sum string }
	require.NoError(t, json.Unmarshal(out, &info))
	require.NotEmpty(t, info.Dir)
	return info.Dir, info.Version, info.Sum
}

// The lean load_balancing is upstream's module byte for byte but for the
// removed resolvers, the tests and the one added file; nothing in it imports
// client-go, controller-runtime or the AWS SDK's client.
func TestLeanLoadBalancingIsUpstreamWithoutTheResolvers(t *testing.T) {
	l, err := LeanFor("load_balancing")
	require.NoError(t, err)
	src, version, sum := upstream(t, l.Module)
	out := filepath.Join(t.TempDir(), l.Dir)
	require.NoError(t, os.MkdirAll(filepath.Join(out, "stale"), 0o755), "a previous copy's leftovers")
	require.NoError(t, l.Derive(src, version, sum, out))

	assert.NoDirExists(t, filepath.Join(out, "stale"), "the copy replaces what was there")
	for _, name := range l.Remove {
		assert.NoFileExists(t, filepath.Join(out, name))
	}
	got, err := os.ReadFile(filepath.Join(out, l.AddName))
	require.NoError(t, err)
	assert.Equal(t, l.Add, got)
	copied := 0
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() || strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "example") ||
			strings.HasPrefix(rel, "testdata") || strings.HasPrefix(rel, "internal/metadatatest") || contains(l.Remove, rel) {
			return nil
		}
		want, err := os.ReadFile(p)
		require.NoError(t, err)
		have, err := os.ReadFile(filepath.Join(out, rel))
		if assert.NoError(t, err, "%s not copied", rel) {
			assert.True(t, bytes.Equal(want, have), "%s differs from upstream's", rel)
			copied++
		}
		return nil
	}))
	assert.Greater(t, copied, 15, "upstream files copied")
	require.NoError(t, filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if strings.HasSuffix(p, ".go") {
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			for _, imp := range []string{`"k8s.io/`, `"sigs.k8s.io/`, `"github.com/aws/aws-sdk-go-v2/config"`, `"github.com/aws/aws-sdk-go-v2/service/servicediscovery"`} {
				assert.NotContains(t, string(data), imp, p)
			}
			assert.False(t, strings.HasSuffix(p, "_test.go"), "test file %s copied", p)
		}
		return nil
	}))
	notice, err := os.ReadFile(filepath.Join(out, "MODIFICATIONS.md"))
	require.NoError(t, err)
	assert.Contains(t, string(notice), l.Module+" "+version)
	assert.Contains(t, string(notice), sum)
	for _, name := range append(l.Remove, l.AddName) {
		assert.Contains(t, string(notice), "`"+name+"`")
	}
	assert.FileExists(t, filepath.Join(out, "LICENSE"), "Apache-2.0: the license goes with the copy")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The added file is gofmt'd Go (it is compiled only in the sidecar's build,
// not by this module's lint).
func TestLeanAddedFileIsFormattedGo(t *testing.T) {
	for typ, l := range LeanVariants {
		formatted, err := format.Source(l.Add)
		require.NoError(t, err, typ)
		assert.Equal(t, string(formatted), string(l.Add), "%s: %s is not gofmt'd", typ, l.AddName)
	}
}

// A new upstream version that renames a removed file, or moves what it
// linked into a kept one, fails the derivation, naming the file.
func TestLeanDeriveFailsWhenUpstreamChanged(t *testing.T) {
	l := LeanVariants["load_balancing"]
	write := func(dir string, files map[string]string) {
		for name, body := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
		}
	}
	src := t.TempDir()
	write(src, map[string]string{"resolver_k8s.go": "package x\n", "resolver_k8s_handler.go": "package x\n", "config.go": "package x\n"})
	err := l.Derive(src, "v9.9.9", "h1:x", filepath.Join(t.TempDir(), "out"))
	assert.ErrorContains(t, err, "has no resolver_aws_cloudmap.go (upstream changed")

	write(src, map[string]string{
		"resolver_aws_cloudmap.go": "package x\n",
		"resolver_k8s_v2.go":       "package x\n\nimport _ \"k8s.io/client-go/kubernetes\"\n",
		"config.go":                "package x\n\nimport _ \"github.com/aws/aws-sdk-go-v2/service/servicediscovery/types\"\n",
	})
	err = l.Derive(src, "v9.9.9", "h1:x", filepath.Join(t.TempDir(), "out"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "resolver_k8s_v2.go imports k8s.io/client-go/kubernetes")
	assert.NotContains(t, err.Error(), "config.go", "servicediscovery/types is allowed")
}

const lbComponents = `receivers:
  - {name: otlp, module: example.com/otlpreceiver v1.0.0}
exporters:
  - {name: otlp_grpc, module: example.com/otlpexporter v1.0.0}
  - {name: debug, module: example.com/debugexporter v1.0.0}
  - {name: load_balancing, module: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter v0.159.0}
`

// A tier's lean entry gives its manifest a replaces entry to the copy; a
// type the tier does not hold, or without a variant, names the field.
func TestLeanTierManifestReplacesTheModule(t *testing.T) {
	reg, err := ParseComponents([]byte(lbComponents))
	require.NoError(t, err)
	cfg := "receivers: {otlp: {}}\nexporters: {load_balancing: {}}\n"
	p, err := PlanTier(reg, "tiers.yaml", Tier{Name: "side", Config: "s.yaml", Lean: []string{"load_balancing"}}, []byte(cfg))
	require.NoError(t, err)
	require.Len(t, p.Lean, 1)

	m, err := ParseManifest([]byte(strings.Replace(manifest, "exporters:\n", "exporters:\n  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter v0.159.0\n", 1)))
	require.NoError(t, err)
	version, err := m.Version(p.Lean[0].Module)
	require.NoError(t, err)
	assert.Equal(t, "v0.159.0", version)
	out, err := m.Tier("side", "", p.Modules, p.Lean)
	require.NoError(t, err)
	var got struct{ Replaces []string }
	require.NoError(t, yaml.Unmarshal(out, &got), string(out))
	assert.Equal(t, []string{"example.com/x => ../..",
		"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter => ../lean/loadbalancingexporter"}, got.Replaces)

	for lean, want := range map[string]string{
		"debug":          `tiers::side::lean[0]: no lean variant of "debug"`,
		"load_balancing": `tiers::side::lean[0]: "load_balancing" is not in the tier`,
	} {
		_, err := PlanTier(reg, "tiers.yaml", Tier{Name: "side", Config: "s.yaml", Lean: []string{lean}}, []byte("receivers: {otlp: {}}\nexporters: {debug: {}}\n"))
		assert.ErrorContains(t, err, want)
	}
	_, err = PlanTier(reg, "tiers.yaml", Tier{Name: "side", Config: "s.yaml", Lean: []string{"load_balancing", "load_balancing"}}, []byte(cfg))
	assert.ErrorContains(t, err, `tiers::side::lean[1]: "load_balancing" twice`)
	_, err = m.Version("example.com/nothing")
	assert.ErrorContains(t, err, "no gomod entry of example.com/nothing")
}

// In the SBOM, cyclonedx-gomod's "../lean/<dir> (devel)" becomes the upstream
// module, marked and with a pedigree; what refers to it follows; nothing else
// of the document changes.
func TestLeanSBOMNamesTheUpstreamModule(t *testing.T) {
	bom := `{
  "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "version": 1,
  "metadata": {"component": {"name": "x"}},
  "components": [
    {"bom-ref": "pkg:golang/a@v1?type=module", "name": "a", "version": "v1", "purl": "pkg:golang/a@v1?goarch=amd64\u0026type=module"},
    {"bom-ref": "pkg:golang/../lean/lb@(devel)?type=module", "type": "library", "name": "../lean/lb", "version": "(devel)", "purl": "pkg:golang/../lean/lb@(devel)?goarch=amd64\u0026type=module"}
  ],
  "dependencies": [{"ref": "pkg:golang/x", "dependsOn": ["pkg:golang/a@v1?type=module", "pkg:golang/../lean/lb@(devel)?type=module"]}]
}
`
	rec := LeanRecord{Module: "example.com/lb", Version: "v0.9.0", Sum: "h1:abc", Removed: map[string]string{"k8s.go": "00"}, Added: "lean.go", Dir: "lb"}
	out, err := LeanSBOM([]byte(bom), []LeanRecord{rec})
	require.NoError(t, err)
	var doc struct {
		Components []struct {
			BOMRef   string `json:"bom-ref"`
			Name     string
			Version  string
			Purl     string
			Licenses []struct{ License struct{ ID string } }
			Pedigree struct {
				Ancestors []struct{ Name, Version, Purl string }
				Notes     string
			}
		}
		Dependencies []struct{ DependsOn []string }
	}
	require.NoError(t, json.Unmarshal(out, &doc), string(out))
	require.Len(t, doc.Components, 2)
	assert.Equal(t, "a", doc.Components[0].Name, "other components as they were")
	lb := doc.Components[1]
	assert.Equal(t, "example.com/lb", lb.Name)
	assert.Equal(t, "v0.9.0+otelcol-tiered.lean", lb.Version)
	assert.Equal(t, "pkg:golang/example.com/lb@v0.9.0?goarch=amd64&type=module", lb.Purl)
	require.Len(t, lb.Licenses, 1)
	assert.Equal(t, "Apache-2.0", lb.Licenses[0].License.ID)
	require.Len(t, lb.Pedigree.Ancestors, 1)
	assert.Equal(t, "example.com/lb", lb.Pedigree.Ancestors[0].Name)
	assert.Equal(t, "v0.9.0", lb.Pedigree.Ancestors[0].Version)
	for _, s := range []string{"h1:abc", "removed k8s.go", "added lean.go"} {
		assert.Contains(t, lb.Pedigree.Notes, s)
	}
	assert.Equal(t, []string{"pkg:golang/a@v1?type=module", lb.BOMRef}, doc.Dependencies[0].DependsOn)

	same, err := LeanSBOM([]byte(strings.ReplaceAll(bom, "../lean/lb", "../other")), []LeanRecord{rec})
	require.NoError(t, err)
	assert.Equal(t, strings.ReplaceAll(bom, "../lean/lb", "../other"), string(same), "no lean copy: unchanged")
	_, err = LeanSBOM([]byte(`{"bomFormat": "CycloneDX", "serialNumber": "x"}`), nil)
	assert.ErrorContains(t, err, "serialNumber", "a field it would drop")
}
