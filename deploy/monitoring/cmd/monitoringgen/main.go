// Command monitoringgen writes the PrometheusRule and the Grafana dashboard
// rendered by package monitoring (`make monitoring`).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/otelcol-tiered/otelcol-tiered/deploy/monitoring"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	files, err := monitoring.Generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "monitoringgen:", err)
		os.Exit(1)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := os.WriteFile(filepath.Join(*root, p), files[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "monitoringgen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", p)
	}
}
