// Command imagestats measures the images of `make images` (size, and idle
// RSS with each tier's config) and writes the README's image table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/distro"
	"github.com/otelcol-tiered/otelcol-tiered/internal/imagestats"
)

func main() {
	images := flag.String("images", "build/images", "directory of the <name>-linux-<arch>.id files")
	arch := flag.String("arch", "amd64", "the host's architecture: only its images run")
	tiersFile := flag.String("tiers", "tiers.yaml", "the tier images")
	readme := flag.String("readme", "", "README to write the table into (between its images:table markers)")
	docker := flag.String("docker", "docker", "docker CLI")
	flag.Parse()
	if err := run(*images, *arch, *tiersFile, *readme, *docker); err != nil {
		fmt.Fprintln(os.Stderr, "imagestats:", err)
		os.Exit(1)
	}
}

func run(images, native, tiersFile, readme, docker string) error {
	data, err := os.ReadFile(tiersFile)
	if err != nil {
		return err
	}
	tiers, err := distro.ParseTiers(tiersFile, data)
	if err != nil {
		return err
	}
	var targets []imagestats.Target
	add := func(image, arch, tier string, run bool) error {
		id, err := os.ReadFile(filepath.Join(images, image+"-linux-"+arch+".id"))
		if err != nil {
			if os.IsNotExist(err) && arch != native {
				return nil
			}
			return fmt.Errorf("%w (make images builds it)", err)
		}
		targets = append(targets, imagestats.Target{Image: image, ID: strings.TrimSpace(string(id)), Arch: arch, Tier: tier, Run: run})
		return nil
	}
	for _, t := range tiers {
		tier := strings.TrimSuffix(filepath.Base(t.Config), ".yaml")
		for _, arch := range []string{"amd64", "arm64"} {
			if err := add("otelcol-tiered-"+t.Name, arch, tier, arch == native); err != nil {
				return err
			}
		}
		if err := add("otelcol-tiered", native, tier, true); err != nil {
			return err
		}
	}

	// Concurrently: idle collectors take little CPU, and each waits out the
	// same settling time.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d := imagestats.Docker{Bin: docker}
	rows := make([]imagestats.Row, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i], errs[i] = imagestats.Measure(ctx, d, t)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	table := imagestats.Table(rows)
	fmt.Print(table)
	if readme == "" {
		return nil
	}
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	engine, _ := exec.Command(docker, "version", "--format", "{{.Server.Version}}").Output()
	body := fmt.Sprintf("Measured by `make images` on %s (commit `%s`, Docker %s): size as `docker image inspect` reports it, idle RSS "+
		"the collector process's VmRSS %s after its health check first answered, %d samples a second apart.\n\n%s",
		time.Now().UTC().Format("2006-01-02"), strings.TrimSpace(string(commit)), strings.TrimSpace(string(engine)),
		imagestats.Settle, imagestats.Samples, table)
	return imagestats.UpdateReadme(readme, body)
}
