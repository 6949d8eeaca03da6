// Package pins checks that every collector module of a go.mod is at the one
// release the Makefile pins: a module at another release is the sign of a
// component named at the wrong path (or a dependency that drags in a newer
// collector core), which ocb would otherwise build without a word.
package pins // import "github.com/otelcol-tiered/otelcol-tiered/internal/pins"

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
)

// Release is the pinned collector release.
type Release struct {
	// Version of the collector's 0.x modules and of contrib, e.g. 0.159.0.
	Version string
	// Stable is the version of the core's 1.x modules of the same release.
	Stable string
}

var makeVar = regexp.MustCompile(`(?m)^(OTELCOL_VERSION|OTELCOL_STABLE_VERSION)\s*:?=\s*(\S+)\s*$`)

// FromMakefile reads OTELCOL_VERSION and OTELCOL_STABLE_VERSION.
func FromMakefile(makefile []byte) (Release, error) {
	var r Release
	for _, m := range makeVar.FindAllSubmatch(makefile, -1) {
		switch string(m[1]) {
		case "OTELCOL_VERSION":
			r.Version = string(m[2])
		case "OTELCOL_STABLE_VERSION":
			r.Stable = string(m[2])
		}
	}
	if r.Version == "" || r.Stable == "" {
		return r, errors.New("makefile: OTELCOL_VERSION and OTELCOL_STABLE_VERSION must both be set")
	}
	return r, nil
}

const (
	corePrefix    = "go.opentelemetry.io/collector"
	contribPrefix = "github.com/open-telemetry/opentelemetry-collector-contrib/"
)

// Check returns one error line for each collector or contrib module that the
// go.mod requires at another release than r.
func Check(r Release, gomodPath string, gomod []byte) error {
	f, err := modfile.ParseLax(gomodPath, gomod, nil)
	if err != nil {
		return err
	}
	var bad []string
	for _, req := range f.Require {
		path, v := req.Mod.Path, strings.TrimPrefix(req.Mod.Version, "v")
		switch {
		case path == corePrefix || strings.HasPrefix(path, corePrefix+"/"):
			if v != r.Version && v != r.Stable {
				bad = append(bad, fmt.Sprintf("%s %s: want v%s or v%s", path, req.Mod.Version, r.Version, r.Stable))
			}
		case strings.HasPrefix(path, contribPrefix):
			if v != r.Version {
				bad = append(bad, fmt.Sprintf("%s %s: want v%s", path, req.Mod.Version, r.Version))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: modules not at the pinned collector release:\n  %s", gomodPath, strings.Join(bad, "\n  "))
	}
	return nil
}
