// Command pincheck fails when a go.mod requires a collector module at another
// release than the one the Makefile pins. `make build` runs it on the go.mod
// that ocb generated.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/otelcol-tiered/otelcol-tiered/internal/pins"
)

func main() {
	makefile := flag.String("makefile", "Makefile", "Makefile holding OTELCOL_VERSION and OTELCOL_STABLE_VERSION")
	gomod := flag.String("gomod", "go.mod", "go.mod to check")
	flag.Parse()
	if err := run(*makefile, *gomod); err != nil {
		fmt.Fprintln(os.Stderr, "pincheck:", err)
		os.Exit(1)
	}
}

func run(makefile, gomod string) error {
	mk, err := os.ReadFile(makefile)
	if err != nil {
		return err
	}
	release, err := pins.FromMakefile(mk)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	return pins.Check(release, gomod, data)
}
