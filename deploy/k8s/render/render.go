// Package render builds the kustomize overlays of deploy/k8s with the
// kustomize Go API (no kubectl needed) and decodes what they produce.
package render // import "github.com/otelcol-tiered/otelcol-tiered/deploy/k8s/render"

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Overlays lists the overlay directories under root/overlays.
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
	sort.Strings(names)
	return names, nil
}

// Overlay renders root/overlays/name to multi-document YAML. The tier configs
// come from the repository's configs/ directory, outside the kustomization
// root, hence LoadRestrictionsNone (kubectl kustomize --load-restrictor
// LoadRestrictionsNone does the same).
func Overlay(root, name string) ([]byte, error) {
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	k := krusty.MakeKustomizer(opts)
	resources, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "overlays", name))
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", name, err)
	}
	return resources.AsYaml()
}
