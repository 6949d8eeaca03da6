// Command render writes each overlay of deploy/k8s, rendered, to
// deploy/k8s/rendered/<overlay>.yaml for a person to read (make k8s-render).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otelcol-tiered/otelcol-tiered/deploy/k8s/render"
)

func main() {
	root := flag.String("root", ".", "the deploy/k8s directory")
	out := flag.String("out", "rendered", "output directory")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	overlays, err := render.Overlays(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, name := range overlays {
		yaml, err := render.Overlay(root, name)
		if err != nil {
			return err
		}
		path := filepath.Join(out, name+".yaml")
		if err := os.WriteFile(path, yaml, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}
