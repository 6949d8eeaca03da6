// Command leanderive writes the lean variants the tiers of tiers.yaml ask
// for (`lean:`) into build/lean/<dir>: each a copy of the upstream module at
// the version the distribution's manifest pins, taken from the Go module
// cache (`go mod download`, which checks it against go.sum), with the
// variant's files removed and one added (internal/distro, LeanVariants).
// The tier manifests of `make tier-manifests` point the module at the copy.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/otelcol-tiered/otelcol-tiered/internal/distro"
)

func main() {
	manifest := flag.String("manifest", "build/builder-config.yaml", "the distribution's ocb manifest, rendered (make manifest)")
	tiers := flag.String("tiers", "tiers.yaml", "the tier images")
	out := flag.String("out", "build/lean", "directory of the derived copies")
	goCmd := flag.String("go", "go", "go command")
	sbom := flag.String("sbom", "", "instead: rewrite this CycloneDX SBOM so that the copies of -out appear as the upstream modules they derive from (pedigree)")
	flag.Parse()
	var err error
	if *sbom != "" {
		err = rewriteSBOM(*sbom, *out)
	} else {
		err = run(*manifest, *tiers, *out, *goCmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "leanderive:", err)
		os.Exit(1)
	}
}

func run(manifestFile, tiersFile, out, goCmd string) error {
	data, err := os.ReadFile(manifestFile)
	if err != nil {
		return err
	}
	m, err := distro.ParseManifest(data)
	if err != nil {
		return err
	}
	if data, err = os.ReadFile(tiersFile); err != nil {
		return err
	}
	tiers, err := distro.ParseTiers(tiersFile, data)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, t := range tiers {
		for i, typ := range t.Lean {
			if done[typ] {
				continue
			}
			done[typ] = true
			l, err := distro.LeanFor(typ)
			if err != nil {
				return fmt.Errorf("%s: tiers::%s::lean[%d]: %w", tiersFile, t.Name, i, err)
			}
			version, err := m.Version(l.Module)
			if err != nil {
				return fmt.Errorf("%s: %w", manifestFile, err)
			}
			dir, sum, err := download(goCmd, l.Module+"@"+version)
			if err != nil {
				return err
			}
			dst := filepath.Join(out, l.Dir)
			if err := l.Derive(dir, version, sum, dst); err != nil {
				return err
			}
			fmt.Printf("%s: %s %s without %v, from %s (%s)\n", dst, l.Module, version, l.Remove, dir, sum)
		}
	}
	return nil
}

// rewriteSBOM names each lean copy in an SBOM by its upstream module, with
// a pedigree (distro.LeanSBOM); an SBOM without one is left as it is.
func rewriteSBOM(file, leanDir string) error {
	records, err := filepath.Glob(filepath.Join(leanDir, "*", distro.LeanRecordFile))
	if err != nil {
		return err
	}
	var recs []distro.LeanRecord
	for _, r := range records {
		data, err := os.ReadFile(r)
		if err != nil {
			return err
		}
		var rec distro.LeanRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		recs = append(recs, rec)
	}
	bom, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := distro.LeanSBOM(bom, recs)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if bytes.Equal(out, bom) {
		return nil
	}
	fmt.Printf("%s: the lean copies named by their upstream modules, with a pedigree\n", file)
	return os.WriteFile(file, out, 0o644)
}

// download returns the module's directory in the module cache and its go.sum
// hash; go verifies the files against go.sum (and the checksum database).
func download(goCmd, modVersion string) (dir, sum string, err error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(goCmd, "mod", "download", "-json", modVersion)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil && runErr == nil {
		return "", "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	switch {
	case info.Error != "":
		return "", "", fmt.Errorf("go mod download %s: %s", modVersion, info.Error)
	case runErr != nil:
		return "", "", fmt.Errorf("go mod download %s: %w: %s", modVersion, runErr, stderr.String())
	case info.Dir == "" || info.Sum == "":
		return "", "", fmt.Errorf("go mod download %s: no directory or sum", modVersion)
	}
	return info.Dir, info.Sum, nil
}
