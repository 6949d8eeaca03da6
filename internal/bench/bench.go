package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// minHeadroom is how many times the collector's spans per CPU-second the
// generator must push for a figure to measure the collector.
const minHeadroom = 5

// Run measures every part the options ask for and writes the results. A part
// that fails is reported and the others still run; the error then joins
// every failure.
func Run(ctx context.Context, o Options) (*Results, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := o.checkMachine(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	o.Root = root
	started := time.Now()
	dir := filepath.Join(o.Out, "raw", started.UTC().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmpl, err := loadgen.NewTemplate(o.Shape, 1)
	if err != nil {
		return nil, err
	}
	res := &Results{
		Started: started,
		Machine: machine(ctx, root),
		Rig: Rig{
			CollectorCPU: o.CollectorCPU, LoadCPU: o.LoadCPU, Pinned: o.Pin,
			Duration: o.Duration.Seconds(), Warmup: o.Warmup.Seconds(), Probe: o.Probe.Seconds(), FixedRate: o.FixedRate,
			SpansPerReq: o.Shape.Spans(), SpansPerTrace: o.Shape.SpansPerTrace, Attributes: o.Shape.Attributes,
			AttributeSize: o.Shape.AttributeSize, RequestBytes: tmpl.Size(), Conns: o.Conns, Inflight: o.Inflight,
		},
	}
	l := &Lab{opts: o, dir: dir}
	defer l.close()
	l.logf("raw results in %s", dir)
	if err := l.startSinks(ctx); err != nil {
		return nil, err
	}

	var errs []error
	fail := func(part string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", part, err))
		res.Notes = append(res.Notes, fmt.Sprintf("%s failed: %v", part, err))
		l.logf("%s failed: %v", part, err)
	}
	save := func() { _ = writeJSON(filepath.Join(dir, "results.json"), res) }

	if !o.skips("table") {
		for _, s := range Scenarios() {
			if len(o.Only) > 0 && !slices.Contains(o.Only, s.Name) {
				continue
			}
			row, err := l.measureRow(ctx, s)
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if err != nil {
				fail(s.Name, err)
				row.Skipped = "failed: " + err.Error()
			}
			res.Rows = append(res.Rows, row)
			save()
		}
		res.relate()
		for _, row := range res.Rows {
			for _, w := range []Window{row.Fixed, row.Max} {
				if w.Spans > 0 && w.GenOverCollector > 0 && w.GenOverCollector < minHeadroom && row.Tier == "gateway" {
					res.Notes = append(res.Notes, fmt.Sprintf("%s at %s spans/s: the generator pushed only %.1f× the collector's spans per CPU-second (want ≥ %d×)",
						row.Name, count(w.Target), w.GenOverCollector, minHeadroom))
				}
			}
		}
	}
	if !o.skips("ratios") {
		r, err := l.costRatios(ctx)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			fail("cost ratios", err)
		} else {
			res.Ratios = &r
		}
		save()
	}
	if !o.skips("memory") {
		m, err := l.tailMemory(ctx)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		m.SpanBytes = tmpl.Size() / o.Shape.Spans()
		if err != nil {
			fail("tail sampling memory", err)
		} else {
			res.Memory = &m
		}
		save()
	}
	if !o.skips("profile") {
		rate := o.FixedRate
		if gw := res.Row("gateway"); gw != nil && gw.Max.OK {
			rate = gw.Max.Target
		}
		p, err := l.profileGateway(ctx, rate)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			fail("gateway profile", err)
		} else {
			res.Profile = &p
		}
		save()
	}
	l.close()
	if !o.skips("micro") && o.MicroCount > 0 {
		mc, err := l.microBenchmarks(ctx, filepath.Join(o.Out, "micro.txt"))
		if err != nil {
			fail("micro-benchmarks", err)
		} else {
			res.Micro = &mc
		}
	}
	res.Machine.LoadAfter = loadavg()
	res.Minutes = time.Since(started).Minutes()
	save()
	if err := res.write(o.Out); err != nil {
		return res, err
	}
	if o.Readme != "" && !o.skips("table") {
		if err := res.UpdateReadme(o.Readme); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// write puts the report, the chart and the JSON into out.
func (r *Results) write(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(out, "results.json"), r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "README.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, ChartFile), []byte(r.Chart()), 0o644)
}

// checkMachine fails early on what would make the run meaningless.
func (o Options) checkMachine() error {
	for name, path := range map[string]string{"collector": o.Collector, "loadgen": o.Loadgen} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %w (run `make build`)", name, err)
		}
	}
	if !o.Pin {
		return nil
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("taskset not found (util-linux): install it, or run unpinned with -pin=false (figures then are not per core)")
	}
	if n := runtime.NumCPU(); o.CollectorCPU >= n || o.LoadCPU >= n || o.CollectorCPU < 0 || o.LoadCPU < 0 {
		return fmt.Errorf("collector-cpu %d, load-cpu %d: this machine has CPUs 0 to %d", o.CollectorCPU, o.LoadCPU, n-1)
	}
	return nil
}

// Render rewrites the report, the chart and the README's table from the
// results.json of an earlier run, without measuring anything.
func Render(resultsJSON, out, readme string) (*Results, error) {
	r, err := Load(resultsJSON)
	if err != nil {
		return nil, err
	}
	if err := r.write(out); err != nil {
		return nil, err
	}
	if readme != "" {
		if err := r.UpdateReadme(readme); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Load reads the results.json of an earlier run.
func Load(resultsJSON string) (*Results, error) {
	b, err := os.ReadFile(resultsJSON)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", resultsJSON, err)
	}
	// What is derived from the windows is derived again, by this code.
	for i := range r.Rows {
		if r.Rows[i].Measured {
			r.Rows[i].HeldBack = heldBack(r.Rows[i])
		}
	}
	r.relate()
	return &r, nil
}
