package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Row is one configuration of the main table.
type Row struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Tier    string `json:"tier,omitempty"`
	Command string `json:"command"`
	// Overlay is the generated overlay of list edits, if any.
	Overlay string `json:"overlay,omitempty"`
	// Measured is false when the configuration could not run; Skipped says why.
	Measured bool   `json:"measured"`
	Skipped  string `json:"skipped,omitempty"`
	// IdleRSS right after start, before any load.
	IdleRSS int64 `json:"idle_rss_bytes"`
	// Fixed is the window at the common rate.
	Fixed Window `json:"fixed"`
	// Probe is the rate-max run; Max the highest sustained window (OK false
	// when no try sustained); Tries every try.
	Probe Window   `json:"probe"`
	Max   Window   `json:"max"`
	Tries []Window `json:"tries"`
	// PerCore is the highest sustained rate over the cores the collector
	// used there: the rate itself when it had its core to itself, more when
	// other processes took part of the core.
	PerCore float64 `json:"spans_per_second_per_core"`
	// Ratios to the null pipeline of the same run.
	MaxVsNull float64 `json:"max_vs_null"`
	CPUVsNull float64 `json:"cpu_per_span_vs_null"`
	RSSVsNull float64 `json:"rss_vs_null"`
	// Sizing figures for the topology extension.
	Sizing Sizing `json:"sizing"`
	// HeldBack says what limited the highest rate.
	HeldBack string `json:"held_back"`
}

// Sizing is a tier's cost in the units of the topology extension's hints.
type Sizing struct {
	// CoresPer10k is the CPU for 10,000 spans/s at the highest sustained
	// rate on one core; CoresPer10kAtFixed the same from the common rate.
	CoresPer10k        float64 `json:"cores_per_10k_spans_per_second"`
	CoresPer10kAtFixed float64 `json:"cores_per_10k_spans_per_second_at_fixed_rate"`
	// MemoryPer10k is the memory growth per 10,000 spans/s (between idle and
	// the common rate), on top of BaseMemory, in MiB.
	MemoryPer10kMiB float64 `json:"memory_mib_per_10k_spans_per_second"`
	BaseMemoryMiB   float64 `json:"base_memory_mib"`
}

const mib = 1 << 20

// measureRow measures one configuration: idle memory, the window at the
// common rate, then the highest rate it sustains.
func (l *Lab) measureRow(ctx context.Context, s Scenario) (Row, error) {
	row := Row{Name: s.Name, Title: s.Title, Tier: s.Tier}
	files, err := s.ConfigFiles(l.opts.Root, l.dir)
	if err != nil {
		return row, err
	}
	row.Command = commandLine(l.opts.Root, files)
	if len(s.Edits) > 0 {
		b, err := os.ReadFile(files[len(files)-1])
		if err != nil {
			return row, err
		}
		row.Overlay = string(b)
	}
	c, err := l.start(ctx, s, s.Name, l.host(10), l.opts.CollectorCPU, nil)
	if err != nil {
		return row, err
	}
	defer func() { c.stop() }()
	time.Sleep(2 * time.Second)
	idle, err := c.usage()
	if err != nil {
		return row, err
	}
	row.IdleRSS = idle.RSS

	l.logf("%s: %s spans/s for %s after %s warm-up", s.Name, fmtRate(l.opts.FixedRate), l.opts.Duration, l.opts.Warmup+s.Hold)
	if err := l.warm(ctx, c, l.opts.FixedRate); err != nil {
		return row, err
	}
	if row.Fixed, err = l.window(ctx, c, l.opts.FixedRate, l.opts.Duration); err != nil {
		return row, err
	}
	l.logf("%s: %s", s.Name, describe(row.Fixed))

	// The probe and every try of the search start from a fresh collector
	// (and an empty queue directory): an overloaded collector carries its
	// backlog into whatever runs next.
	fresh := func(tag string) error {
		c.kill()
		c, err = l.start(ctx, s, s.Name+"-"+tag, l.host(10), l.opts.CollectorCPU, s.MaxEnv)
		return err
	}
	// Where the search starts: below a configuration that holds data (a
	// gateway's tail sampling), from its CPU per span at the common rate,
	// raising the rate while it holds — driven at rate max it takes spans
	// in faster than it can decide on them and stalls; the others from a
	// rate-max probe, their ceiling.
	srch := search{step: l.opts.Step}
	var target float64
	if s.Hold > 0 {
		srch.upward = true
		target = 2 * l.opts.FixedRate
		if row.Fixed.CPUPerMillion > 0 {
			target = 0.9 * 1e6 / row.Fixed.CPUPerMillion
		}
	} else {
		if err := fresh("probe"); err != nil {
			return row, err
		}
		if err := l.warm(ctx, c, 0); err != nil {
			return row, err
		}
		if row.Probe, err = l.window(ctx, c, 0, l.opts.Probe); err != nil {
			return row, err
		}
		l.logf("%s: probe at max: %s", s.Name, describe(row.Probe))
		target = row.Probe.Rate * 0.95
	}
	for try := 0; try < l.opts.Tries && target > 0; try++ {
		if err := fresh(fmt.Sprintf("try%d", try+1)); err != nil {
			return row, err
		}
		if err := l.warm(ctx, c, target); err != nil {
			return row, err
		}
		w, err := l.window(ctx, c, target, l.opts.Duration)
		if err != nil {
			return row, err
		}
		row.Tries = append(row.Tries, w)
		l.logf("%s: try %d at %s spans/s: %s", s.Name, try+1, fmtRate(target), describe(w))
		target = srch.next(target, w)
	}
	row.Max = srch.best
	row.Measured = true
	row.HeldBack = heldBack(row)
	return row, nil
}

// nextTarget follows a try that was not sustained: just under what the
// collector accepted, but at least one step and at most 40 % below the last
// target (a collector that stalled accepts next to nothing).
func nextTarget(target, accepted, step float64) float64 {
	return max(min(accepted*0.95, target*step), target*0.6)
}

// heldBack names what limited the highest rate: the collector's core, a
// core shared with other processes, the load CPU, or neither; and what
// happened at the next rate tried above it.
func heldBack(r Row) string {
	w := r.Max
	if !w.OK {
		if len(r.Tries) == 0 {
			return "not measured"
		}
		last := r.Tries[len(r.Tries)-1]
		why := "no try sustained: " + last.Why
		if last.Others+last.Steal >= 0.1 {
			why += fmt.Sprintf(" (other processes took %.0f %% of its core)", 100*(last.Others+last.Steal))
		}
		return why
	}
	var above *Window
	for i := range r.Tries {
		t := &r.Tries[i]
		if !t.OK && t.Target > w.Target && (above == nil || t.Target < above.Target) {
			above = t
		}
	}
	var limit string
	switch {
	case w.Others+w.Steal >= 0.1:
		limit = fmt.Sprintf("a shared core: the collector got %.0f %% of it, other processes %.0f %% (a lower bound)", 100*w.Cores, 100*(w.Others+w.Steal))
	case w.LoadCores >= 0.9:
		limit = fmt.Sprintf("the load CPU (%.0f %% busy; a lower bound)", 100*w.LoadCores)
	case w.Cores >= 0.8 || (above != nil && above.Cores >= 0.8):
		limit = fmt.Sprintf("its core (%.0f %% busy)", 100*w.Cores)
	default:
		limit = fmt.Sprintf("not its CPU (%.0f %% of its core): latency", 100*w.Cores)
	}
	if above != nil {
		return fmt.Sprintf("%s; at %s spans/s (%.0f %% busy): %s", limit, count(above.Target), 100*above.Cores, above.Why)
	}
	return limit
}

// search picks the target of each try for the highest sustained rate.
type search struct {
	step float64
	// upward: the start is an estimate from below, raised while sustained;
	// otherwise the start is the ceiling (a rate-max probe) and the search
	// only steps down from it.
	upward bool
	best   Window
	// failed is the lowest target not sustained (0: none yet).
	failed float64
}

// next takes the window of a try at target and returns the next target, or
// 0 when the search is done: the highest sustained rate is then within 5 %
// of the lowest one not sustained, or the start was the ceiling.
func (s *search) next(target float64, w Window) float64 {
	if w.OK {
		if w.Rate > s.best.Rate {
			s.best = w
		}
		switch {
		case s.failed > 0:
			if s.failed <= target*1.05 {
				return 0
			}
			return (target + s.failed) / 2
		case s.upward:
			return target * 1.25
		default:
			return 0
		}
	}
	if s.failed == 0 || target < s.failed {
		s.failed = target
	}
	if s.best.OK {
		if s.failed <= s.best.Target*1.05 {
			return 0
		}
		return (s.best.Target + s.failed) / 2
	}
	return nextTarget(target, w.Rate, s.step)
}

func describe(w Window) string {
	s := fmt.Sprintf("%s spans/s accepted, collector %.2f cores (its CPU %.0f %% busy, %.0f %% by others, %.0f %% stolen), %.1f CPU-s per million spans (user %.2f s, sys %.2f s, %d GC cycles, %d minor faults), RSS %.0f MiB; generator %.1f× the collector's spans per CPU-second, load CPU %.0f %%",
		fmtRate(w.Rate), w.Cores, 100*w.CPUBusy, 100*w.Others, 100*w.Steal, w.CPUPerMillion, w.UserCPU, w.SysCPU, w.GCs, w.MinorFaults, float64(w.RSS)/mib, w.GenOverCollector, 100*w.LoadCores)
	if !w.OK {
		s += "; NOT sustained: " + w.Why
	}
	return s
}

func fmtRate(r float64) string { return fmt.Sprintf("%.0f", r) }

// commandLine is how the configuration runs, paths relative to the
// repository.
func commandLine(root string, files []string) string {
	var b strings.Builder
	b.WriteString("otelcol-tiered")
	for _, f := range files {
		if rel, err := filepath.Rel(root, f); err == nil {
			f = rel
		}
		b.WriteString(" --config " + f)
	}
	return b.String()
}
