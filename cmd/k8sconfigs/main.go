// Command k8sconfigs writes the copies of the tier configs of configs/ that
// kustomize and Helm read inside their own trees (manifest.Copies), or with
// -check lists the stale ones and fails (make k8s-configs).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	check := flag.Bool("check", false, "only check that every copy is in step")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "k8sconfigs:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	if check {
		return manifest.Stale(root, manifest.Copies)
	}
	changed, err := manifest.Write(root, manifest.Copies)
	for _, path := range changed {
		fmt.Println("wrote", path)
	}
	return err
}
