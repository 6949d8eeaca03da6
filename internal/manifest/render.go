// Package manifest renders the kustomize overlays of deploy/k8s with the
// kustomize Go API (no kubectl needed), decodes what they produce strictly
// into the Kubernetes API types, and answers the questions the manifest
// tests ask of them: which rules a service account holds, whether a custom
// resource fits its CRD.
package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Overlays lists the overlay directories under root/overlays, sorted.
func Overlays(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "overlays"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no overlays under %s", filepath.Join(root, "overlays"))
	}
	sort.Strings(names)
	return names, nil
}

// Render builds the kustomization in dir and returns one YAML document per
// object, in kustomize's output order, with kustomize's default options
// (the load restrictor on: no file outside a kustomization's root), as
// plain `kubectl apply -k`, Argo CD and Flux build it.
func Render(dir string) ([][]byte, error) {
	opts := krusty.MakeDefaultOptions()
	// The order the kustomization asks for (sortOptions), as kubectl's.
	opts.Reorder = krusty.ReorderOptionUnspecified
	resources, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var docs [][]byte
	for _, r := range resources.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize %s: %s: %w", dir, r.CurId(), err)
		}
		docs = append(docs, y)
	}
	if len(docs) == 0 {
		return nil, errors.New("kustomize " + dir + ": no objects")
	}
	return docs, nil
}

// Join makes one multi-document YAML stream of docs.
func Join(docs [][]byte) []byte {
	var out []byte
	for i, d := range docs {
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, d...)
	}
	return out
}
