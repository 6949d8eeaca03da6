// Command k8srender writes each overlay of deploy/k8s, rendered with the
// kustomize Go API, to <out>/<overlay>.yaml for a person to read or to
// `kubectl apply -f` (make k8s-render).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

func main() {
	root := flag.String("root", "deploy/k8s", "the directory holding overlays/")
	out := flag.String("out", "deploy/k8s/rendered", "output directory")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "k8srender:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	overlays, err := manifest.Overlays(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, name := range overlays {
		docs, err := manifest.Render(filepath.Join(root, "overlays", name))
		if err != nil {
			return err
		}
		// Decoding is the check kubectl's strict validation would make.
		if _, err := manifest.Decode(docs); err != nil {
			return fmt.Errorf("overlay %s: %w", name, err)
		}
		path := filepath.Join(out, name+".yaml")
		if err := os.WriteFile(path, manifest.Join(docs), 0o644); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%d objects)\n", path, len(docs))
	}
	return nil
}
