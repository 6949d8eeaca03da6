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
	flag.Parse()
	if err := run(*manifest, *tiers, *out, *goCmd); err != nil {
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
