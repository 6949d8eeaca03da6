// Package imagestats measures the images `make images` builds: each image's
// size, and the idle resident memory of a container of it running a tier's
// config — the kernel's VmRSS of the container's process, read from
// /proc/<pid>/status after the collector reports healthy and has settled.
package imagestats // import "github.com/otelcol-tiered/otelcol-tiered/internal/imagestats"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Target is one container to measure.
type Target struct {
	// Image is the image's name (otelcol-tiered-sidecar), ID what to run.
	Image, ID string
	// Arch is the image's architecture; only the host's can run here.
	Arch string
	// Tier names the config, /etc/otelcol-tiered/<Tier>.yaml in the image.
	Tier string
	// Run says whether to start it (false: its size only).
	Run bool
}

// Row is one measured target.
type Row struct {
	Target
	SizeBytes int64
	// RSS samples in bytes, taken a second apart once idle; none if not run.
	RSS []int64
}

// Docker runs the docker CLI.
type Docker struct{ Bin string }

func (d Docker) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, d.Bin, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", d.Bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// Settle is how long a started collector is left alone before sampling, and
// Samples how many VmRSS readings (a second apart) a row gets.
const (
	Settle  = 10 * time.Second
	Samples = 5
)

// Measure starts t's container (unless t.Run is false), waits until its
// health_check answers, lets it settle and samples its process's VmRSS.
func Measure(ctx context.Context, d Docker, t Target) (Row, error) {
	row := Row{Target: t}
	size, err := d.run(ctx, "image", "inspect", "--format", "{{.Size}}", t.ID)
	if err != nil {
		return row, err
	}
	if row.SizeBytes, err = strconv.ParseInt(size, 10, 64); err != nil {
		return row, fmt.Errorf("%s: size %q: %w", t.Image, size, err)
	}
	if !t.Run {
		return row, nil
	}
	// The peer token is for a gateway config that authenticates its peer port;
	// the others ignore it.
	id, err := d.run(ctx, "run", "-d", "--rm", "-p", "127.0.0.1::13133", "-e", "STICKYCHECK_PEER_TOKEN=imagestats-idle",
		t.ID, "--config", "/etc/otelcol-tiered/"+t.Tier+".yaml")
	if err != nil {
		return row, err
	}
	defer func() { _, _ = d.run(context.Background(), "rm", "-f", id) }()
	port, err := d.run(ctx, "port", id, "13133/tcp")
	if err != nil {
		return row, err
	}
	if err := waitHealthy(ctx, "http://"+strings.Fields(port)[0]+"/"); err != nil {
		logs, _ := d.run(context.Background(), "logs", "--tail", "20", id)
		return row, fmt.Errorf("%s with the %s config: %w\n%s", t.Image, t.Tier, err, logs)
	}
	pid, err := d.run(ctx, "inspect", "--format", "{{.State.Pid}}", id)
	if err != nil {
		return row, err
	}
	select {
	case <-time.After(Settle):
	case <-ctx.Done():
		return row, ctx.Err()
	}
	for i := 0; i < Samples; i++ {
		rss, err := VmRSS("/proc/" + pid + "/status")
		if err != nil {
			return row, fmt.Errorf("%s: %w", t.Image, err)
		}
		row.RSS = append(row.RSS, rss)
		time.Sleep(time.Second)
	}
	return row, nil
}

func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("health_check at %s not healthy after 60s (last: %w)", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var vmRSS = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB$`)

// VmRSS reads a process's resident set size, in bytes, from its status file.
func VmRSS(statusFile string) (int64, error) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return 0, err
	}
	m := vmRSS.FindSubmatch(b)
	if m == nil {
		return 0, errors.New(statusFile + ": no VmRSS line")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024, nil
}

// Median of the samples (0 for none).
func (r Row) Median() int64 {
	if len(r.RSS) == 0 {
		return 0
	}
	s := append([]int64(nil), r.RSS...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

const mib = 1 << 20

// Table renders the rows as the README's markdown table, by tier, the tier
// image before the all-in-one.
func Table(rows []Row) string {
	sorted := append([]Row(nil), rows...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return len(a.Image) > len(b.Image)
	})
	var b strings.Builder
	b.WriteString("| image | arch | size | config | idle RSS (median of 5, range) |\n|---|---|---|---|---|\n")
	for _, r := range sorted {
		rss := "not run here (another architecture)"
		if len(r.RSS) > 0 {
			lo, hi := r.RSS[0], r.RSS[0]
			for _, v := range r.RSS {
				lo, hi = min(lo, v), max(hi, v)
			}
			rss = fmt.Sprintf("%.1f MiB (%.1f–%.1f)", float64(r.Median())/mib, float64(lo)/mib, float64(hi)/mib)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %.1f MB | `%s.yaml` | %s |\n", r.Image, r.Arch, float64(r.SizeBytes)/1e6, r.Tier, rss)
	}
	return b.String()
}

var readmeMarkers = regexp.MustCompile(`(?s)<!-- images:table:begin -->\n.*?<!-- images:table:end -->`)

// UpdateReadme replaces the text between the README's image table markers.
func UpdateReadme(path, body string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !readmeMarkers.Match(b) {
		return fmt.Errorf("%s has no <!-- images:table:begin --> … <!-- images:table:end --> markers", path)
	}
	out := readmeMarkers.ReplaceAllLiteral(b, []byte("<!-- images:table:begin -->\n"+body+"<!-- images:table:end -->"))
	return os.WriteFile(path, out, 0o644)
}
