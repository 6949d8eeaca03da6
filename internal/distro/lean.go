package distro

import (
	"bytes"
	_ "embed"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
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
	names = append(names, "MODIFICATIONS.md")
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
