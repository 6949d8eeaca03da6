package distro

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A Lean variant is an upstream component module with parts removed, derived
// at build time from the exact upstream source (the module cache's copy of
// the version the manifest pins) and never committed: a tier that lists the
// component under `lean` in tiers.yaml is built against the derived copy
// (a `replaces` entry of its manifest) instead of the module itself.
type Lean struct {
	// Kind and Type name the component, as a config names it.
	Kind, Type string
	// Module is the upstream module the variant is derived from.
	Module string
	// Dir is the derived copy's directory under the lean directory
	// (build/lean), beside the tiers' generated sources.
	Dir string
	// Remove are the module's files the variant drops; each must exist in
	// the upstream module (else upstream has changed: review the recipe).
	Remove []string
	// SkipDirs are the module's directories not copied (examples, test data,
	// test helpers).
	SkipDirs []string
	// Forbidden are import path prefixes no file of the copy may import (what
	// the removed files linked), but for Allowed (exact paths).
	Forbidden, Allowed []string
	// AddName and Add are the one file the variant adds.
	AddName string
	Add     []byte
	// Why, for the copy's MODIFICATIONS.md.
	Why string
}

//go:embed lean/loadbalancing_lean.go.txt
var loadBalancingLean []byte

// LeanVariants are the variants a tier can ask for, by component type.
var LeanVariants = map[string]Lean{
	"load_balancing": {
		Kind:   "exporters",
		Type:   "load_balancing",
		Module: "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter",
		Dir:    "loadbalancingexporter",
		Remove: []string{"resolver_k8s.go", "resolver_k8s_handler.go", "resolver_aws_cloudmap.go"},
		SkipDirs: []string{
			"example", "testdata", "internal/metadatatest",
		},
		Forbidden: []string{"k8s.io/", "sigs.k8s.io/", "github.com/aws/"},
		// config.go keeps the aws_cloud_map resolver's settings (the config
		// schema is upstream's): their health_status type is a string enum
		// of this small package, not the SDK's client.
		Allowed: []string{"github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"},
		AddName: "lean_resolvers.go",
		Add:     loadBalancingLean,
		Why: "The k8s resolver links client-go's clientset and controller-runtime, the aws_cloud_map resolver the AWS " +
			"SDK, whatever resolver a config uses (+33 MB in the sidecar binary). The sidecar resolves by dns (Kubernetes) " +
			"or static (locally) only.",
	},
}

// LeanReplace is the `replaces` entry of a tier manifest for a variant: the
// copy's directory relative to the tier's generated sources, which sit beside
// the lean directory (build/otelcol-tiered-<tier>, build/lean).
func (l Lean) LeanReplace() string {
	return l.Module + " => ../lean/" + l.Dir
}

// Derive writes the variant's copy of the module at srcDir (the upstream
// module's files, e.g. its directory in the module cache) into outDir,
// replacing whatever outDir held: every file but the tests, the removed files
// and the skipped directories, byte for byte, plus the added file and
// MODIFICATIONS.md (the Apache-2.0 notice of what was changed, naming
// version, the module's go.sum hash sum and each removed file's sha256).
func (l Lean) Derive(srcDir, version, sum, outDir string) error {
	removed := map[string]string{}
	for _, name := range l.Remove {
		data, err := os.ReadFile(filepath.Join(srcDir, name))
		if err != nil {
			return fmt.Errorf("lean %s: %s@%s has no %s (upstream changed: review internal/distro's recipe): %w", l.Type, l.Module, version, name, err)
		}
		h := sha256.Sum256(data)
		removed[name] = hex.EncodeToString(h[:])
	}
	if _, err := os.Stat(filepath.Join(srcDir, l.AddName)); err == nil {
		return fmt.Errorf("lean %s: %s@%s already has a %s", l.Type, l.Module, version, l.AddName)
	}
	if err := os.RemoveAll(outDir); err != nil {
		return err
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(srcDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(srcDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			for _, skip := range l.SkipDirs {
				if rel == skip {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(rel, "_test.go") || removed[rel] != "" || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = data
		return nil
	})
	if err != nil {
		return fmt.Errorf("lean %s: %w", l.Type, err)
	}
	files[l.AddName] = l.Add
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if err := l.checkImports(names, files); err != nil {
		return err
	}
	files["MODIFICATIONS.md"] = l.notice(version, sum, removed)
	record, err := json.MarshalIndent(LeanRecord{Module: l.Module, Version: version, Sum: sum, Removed: removed, Added: l.AddName, Dir: l.Dir}, "", "  ")
	if err != nil {
		return err
	}
	files[LeanRecordFile] = append(record, '\n')
	names = append(names, "MODIFICATIONS.md", LeanRecordFile)
	for _, name := range names {
		out := filepath.Join(outDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkImports fails when a Go file of the copy still imports what the
// variant removes (a new upstream version may have moved it into a kept file).
func (l Lean) checkImports(names []string, files map[string][]byte) error {
	var bad []string
	fset := token.NewFileSet()
	for _, name := range names {
		if path.Ext(name) != ".go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, files[name], parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("lean %s: %w", l.Type, err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if l.forbidden(p) {
				bad = append(bad, fmt.Sprintf("%s imports %s", name, p))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("lean %s: the copy still links what it removes (upstream changed: review internal/distro's recipe):\n%s", l.Type, strings.Join(bad, "\n"))
	}
	return nil
}

func (l Lean) forbidden(imp string) bool {
	for _, a := range l.Allowed {
		if imp == a {
			return false
		}
	}
	for _, f := range l.Forbidden {
		if strings.HasPrefix(imp, f) {
			return true
		}
	}
	return false
}

func (l Lean) notice(version, sum string, removed map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Modified copy of %s %s\n\n", l.Module, version)
	fmt.Fprintf(&b, "Derived by otelcol-tiered (`make lean`, internal/distro) from the module's source in the Go module\n"+
		"cache, verified against go.sum (%s). Licensed under the Apache License 2.0 (LICENSE, unchanged).\n\n", sum)
	fmt.Fprintf(&b, "Changes to the upstream module:\n\n")
	var names []string
	for name := range removed {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "- removed `%s` (upstream sha256 %s)\n", name, removed[name])
	}
	fmt.Fprintf(&b, "- removed the tests (`*_test.go`) and the directories %s\n", "`"+strings.Join(l.SkipDirs, "`, `")+"`")
	fmt.Fprintf(&b, "- added `%s` (otelcol-tiered's, Apache-2.0)\n\n", l.AddName)
	fmt.Fprintf(&b, "Every other file is upstream's, byte for byte.\n\n%s\n", l.Why)
	return b.Bytes()
}

// LeanRecordFile is the derived copy's record of where it came from, for
// the SBOM (LeanSBOM).
const LeanRecordFile = "lean.json"

// LeanRecord is what a derived copy records about itself.
type LeanRecord struct {
	Module, Version, Sum string
	// Removed: file → its upstream sha256.
	Removed map[string]string
	Added   string
	// Dir is the copy's directory under the lean directory.
	Dir string
}

// LeanSBOM rewrites a cyclonedx-gomod SBOM (JSON) in which a lean copy
// appears as the local module "../lean/<dir>" at "(devel)": the component is
// named as the upstream module again, at its version marked "+otelcol-tiered.lean",
// with upstream's purl (the code is upstream's, for vulnerability matching),
// its license (LICENSE is copied unchanged) and a CycloneDX pedigree: the
// upstream module as ancestor and notes saying what was removed and added.
// An SBOM without a lean copy is returned unchanged.
func LeanSBOM(bom []byte, records []LeanRecord) ([]byte, error) {
	var doc struct {
		Schema       string            `json:"$schema"`
		BOMFormat    string            `json:"bomFormat"`
		SpecVersion  string            `json:"specVersion"`
		Version      int               `json:"version"`
		Metadata     json.RawMessage   `json:"metadata"`
		Components   []json.RawMessage `json:"components"`
		Dependencies json.RawMessage   `json:"dependencies,omitempty"`
		Compositions json.RawMessage   `json:"compositions,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(bom))
	dec.DisallowUnknownFields() // nothing of the SBOM is dropped
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	changed := false
	refs := map[string]string{}
	for i, raw := range doc.Components {
		var c struct {
			BOMRef string `json:"bom-ref"`
			Name   string `json:"name"`
			Purl   string `json:"purl"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("sbom: components[%d]: %w", i, err)
		}
		for _, r := range records {
			if c.Name != "../lean/"+r.Dir {
				continue
			}
			_, qualifiers, _ := strings.Cut(c.Purl, "?")
			purl := "pkg:golang/" + r.Module + "@" + r.Version
			var removed []string
			for name := range r.Removed {
				removed = append(removed, name)
			}
			sort.Strings(removed)
			notes := fmt.Sprintf("otelcol-tiered's lean variant of %s %s (go.sum %s), derived at build time from the module's source: "+
				"removed %s and the tests; added %s. Every other file is upstream's, byte for byte (MODIFICATIONS.md in the copy).",
				r.Module, r.Version, r.Sum, strings.Join(removed, ", "), r.Added)
			type license struct {
				License struct {
					ID string `json:"id"`
				} `json:"license"`
			}
			type property struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			}
			type ancestor struct {
				Type    string `json:"type"`
				Name    string `json:"name"`
				Version string `json:"version"`
				Purl    string `json:"purl"`
			}
			lic := license{}
			lic.License.ID = "Apache-2.0"
			out := struct {
				BOMRef      string     `json:"bom-ref"`
				Type        string     `json:"type"`
				Name        string     `json:"name"`
				Version     string     `json:"version"`
				Description string     `json:"description"`
				Scope       string     `json:"scope"`
				Licenses    []license  `json:"licenses"`
				Purl        string     `json:"purl"`
				Pedigree    any        `json:"pedigree"`
				Properties  []property `json:"properties"`
			}{
				BOMRef: purl + "+otelcol-tiered.lean?type=module", Type: "library", Name: r.Module,
				Version:     r.Version + "+otelcol-tiered.lean",
				Description: "A modified copy of " + r.Module + " " + r.Version + " (see pedigree)",
				Scope:       "required", Licenses: []license{lic}, Purl: purl + "?" + qualifiers,
				Pedigree: struct {
					Ancestors []ancestor `json:"ancestors"`
					Notes     string     `json:"notes"`
				}{[]ancestor{{"library", r.Module, r.Version, purl + "?type=module"}}, notes},
				Properties: []property{{"otelcol-tiered:lean:replace", "../lean/" + r.Dir}, {"otelcol-tiered:lean:upstream-sum", r.Sum}},
			}
			data, err := marshalJSON(out, false)
			if err != nil {
				return nil, err
			}
			doc.Components[i] = bytes.TrimSuffix(data, []byte("\n"))
			refs[c.BOMRef] = out.BOMRef
			changed = true
		}
	}
	if !changed {
		return bom, nil
	}
	deps := string(doc.Dependencies)
	for from, to := range refs {
		deps = strings.ReplaceAll(deps, strconv.Quote(from), strconv.Quote(to))
	}
	doc.Dependencies = json.RawMessage(deps)
	return marshalJSON(doc, true)
}

// marshalJSON encodes as cyclonedx-gomod does (Go's encoder: a purl's "&"
// as \u0026), indented by two spaces.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// LeanFor returns the variant of a component type a tier asks for.
func LeanFor(typ string) (Lean, error) {
	l, ok := LeanVariants[typ]
	if !ok {
		var known []string
		for k := range LeanVariants {
			known = append(known, k)
		}
		sort.Strings(known)
		return Lean{}, fmt.Errorf("no lean variant of %q (there is one of %s)", typ, strings.Join(known, ", "))
	}
	if len(l.Add) == 0 {
		return Lean{}, errors.New("lean " + typ + ": the added file is empty")
	}
	return l, nil
}
