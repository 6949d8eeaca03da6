package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kinds of ratio. A cost ratio is CPU per span over the baseline's (at most
// Target); a speed ratio spans per CPU-second over the baseline's (at least
// Target); a self ratio puts a configuration against a second instance of
// itself, and its spread (at most Target) is what the instrument resolves.
const (
	KindCost  = "cost"
	KindSpeed = "speed"
	KindSelf  = "self"
)

// Pair is one ratio of the measurement: two collectors running side by
// side, loaded at once, each window the same number of spans, their places
// swapped every repetition (measurePair).
type Pair struct {
	// Name is the ratio's short name; What says what it measures.
	Name, What string
	// Config and Baseline are scenario names (the same for a self ratio).
	Config, Baseline string
	Kind             string
	// Target bounds the median (cost, speed) or the spread (self); 0: none,
	// the ratio is reported.
	Target float64
}

// Pairs are the ratios `make bench` takes, the self ratio first: it says
// what the others can resolve.
var Pairs = []Pair{
	{Name: "self", What: "the shipped gateway against a second instance of itself", Config: "gateway", Baseline: "gateway", Kind: KindSelf, Target: 0.05},
	{Name: "vs-seed", What: "the shipped gateway against the seed's, sampling 100 %", Config: "gateway", Baseline: "seed-gateway", Kind: KindSpeed, Target: 1.5},
	{Name: "vs-seed-sampled", What: "the shipped gateway against the seed's, sampling 1 % as shipped", Config: "gateway-sampled", Baseline: "seed-gateway-sampled", Kind: KindSpeed, Target: 1.2},
	{Name: "gc", What: "the shipped gateway's GOGC and GOMEMLIMIT against the Go defaults", Config: "gateway", Baseline: "gateway-default-gc", Kind: KindSpeed},
	{Name: "stickycheck", What: "stickycheck's check: with it over without it", Config: "gateway-stickycheck", Baseline: "gateway-nostickycheck", Kind: KindCost, Target: 1.03},
	{Name: "audit", What: "the split-trace audit: with it over stickycheck without it", Config: "gateway", Baseline: "gateway-stickycheck", Kind: KindCost, Target: 1.03},
	{Name: "forward", What: "stickycheck with forwarding on against the gateway without stickycheck", Config: "gateway-forward", Baseline: "gateway-nostickycheck", Kind: KindSpeed, Target: 0.97},
}

// PairByName finds a pair of Pairs.
func PairByName(name string) (Pair, bool) {
	for _, p := range Pairs {
		if p.Name == name {
			return p, true
		}
	}
	return Pair{}, false
}

// Ratio is one pair's result.
type Ratio struct {
	Pair
	// PerRep is the ratio of each repetition; Median, Min and Max over them;
	// Spread is (Max − Min) ÷ Median.
	PerRep []float64 `json:"per_rep"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Spread float64   `json:"spread"`
	// Pooled is the ratio of all the windows together (the CPU of every
	// repetition summed over the spans of every repetition): a GC cycle
	// that falls in one window or the next no longer matters.
	Pooled float64 `json:"pooled"`
	// Windows of the configuration and of the baseline, in the order taken.
	Windows         []Window `json:"windows"`
	BaselineWindows []Window `json:"baseline_windows"`
	// Failed says why the pair was not measured.
	Failed string `json:"failed,omitempty"`
}

// Met says whether the ratio meets its target (true when it has none).
func (r Ratio) Met() bool {
	switch {
	case r.Target == 0 || r.Failed != "":
		return r.Target == 0 && r.Failed == ""
	case r.Kind == KindSelf:
		return r.Spread <= r.Target
	case r.Kind == KindSpeed:
		return r.Median >= r.Target
	default:
		return r.Median <= r.Target
	}
}

// Ratios is the measurement of the pairs.
type Ratios struct {
	Rate float64 `json:"rate"`
	// Spans in every window.
	Spans int64 `json:"spans_per_window"`
	Reps  int   `json:"reps"`
	// Warmup is the share of a window sent before each repetition's
	// windows (0 in runs before it was recorded: a quarter).
	Warmup float64 `json:"warmup_windows,omitempty"`
	Ratios []Ratio `json:"ratios"`
}

// value is the ratio of one repetition from the two windows' CPU per span.
func (p Pair) value(cfg, base Window) float64 {
	if p.Kind == KindSpeed {
		return base.CPUPerMillion / cfg.CPUPerMillion
	}
	return cfg.CPUPerMillion / base.CPUPerMillion
}

// ratioRun is a pair with its two scenarios: the configuration's and the
// baseline's.
type ratioRun struct {
	Pair
	scenarios [2]Scenario
	// err says why the pair cannot run.
	err error
}

// ratioRuns are the pairs the options ask for: Options.Compare's alone, or
// Pairs (those of Options.Pairs when set).
func (o Options) ratioRuns() []ratioRun {
	if o.Compare != "" {
		base, _ := ScenarioByName(o.Compare) // Validate checked it
		changed := base
		changed.Name += "-changed"
		changed.Overlays = append(slices.Clone(base.Overlays), o.CompareOverlays...)
		changed.Env = maps.Clone(base.Env)
		if changed.Env == nil {
			changed.Env = map[string]string{}
		}
		maps.Copy(changed.Env, o.CompareEnv)
		p := Pair{Name: "compare", What: fmt.Sprintf("%s with %s %v over %s", o.Compare, strings.Join(o.CompareOverlays, ", "), o.CompareEnv, o.Compare),
			Config: changed.Name, Baseline: base.Name, Kind: KindSpeed}
		return []ratioRun{{Pair: p, scenarios: [2]Scenario{changed, base}}}
	}
	var runs []ratioRun
	for _, p := range Pairs {
		if len(o.Pairs) > 0 && !slices.Contains(o.Pairs, p.Name) {
			continue
		}
		run := ratioRun{Pair: p}
		for i, name := range []string{p.Config, p.Baseline} {
			s, ok := ScenarioByName(name)
			if !ok {
				run.err = fmt.Errorf("pair %s: no configuration %q", p.Name, name)
			}
			run.scenarios[i] = s
		}
		runs = append(runs, run)
	}
	return runs
}

// costRatios measures every pair the options ask for, one pair at a time.
func (l *Lab) costRatios(ctx context.Context) (Ratios, error) {
	spans := int64(l.opts.RatioRate * l.opts.RatioDuration.Seconds())
	res := Ratios{Rate: l.opts.RatioRate, Spans: spans, Reps: l.opts.Reps, Warmup: l.opts.RatioWarmup}
	for _, run := range l.opts.ratioRuns() {
		r, err := Ratio{Pair: run.Pair}, run.err
		if err == nil {
			r, err = l.measurePair(ctx, run, spans)
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			r.Failed = err.Error()
			l.logf("ratio %s failed: %v", run.Name, err)
		}
		res.Ratios = append(res.Ratios, r)
	}
	return res, nil
}

// measurePair takes Reps repetitions of the pair. Each repetition starts
// the two collectors afresh side by side on the collector CPU, the
// configuration and the baseline swapping their places (addresses, start
// order) every repetition, warms both with RatioWarmup of a window that is
// not counted (maps, the queue's file and the heap reach their size), and then
// loads both at once, each from its own generator at the ratio rate, so
// that both windows see the same machine. Measured here: windows taken one
// after the other (A then B) saw this machine's speed move by up to 50 %
// within a minute, which no number of repetitions averages away; and two
// instances of one configuration kept for a whole run differed by 5 %
// throughout, one way or the other from run to run, so every repetition
// has instances of its own. Each window starts right after a full GC of
// its collector (the pprof extension's heap?gc=1), so that it holds its GC
// cycles at the same points of the same work, whatever the warm-up left on
// the heap.
func (l *Lab) measurePair(ctx context.Context, run ratioRun, spans int64) (Ratio, error) {
	p := run.Pair
	r := Ratio{Pair: p}
	for rep := range l.opts.Reps {
		w, err := l.repetition(ctx, run, rep, spans)
		if err != nil {
			return r, fmt.Errorf("rep %d: %w", rep+1, err)
		}
		for i, wi := range w {
			l.logf("ratio %s rep %d/%d %s: %s", p.Name, rep+1, l.opts.Reps, run.scenarios[i].Name, describe(wi))
		}
		r.Windows = append(r.Windows, w[0])
		r.BaselineWindows = append(r.BaselineWindows, w[1])
		r.PerRep = append(r.PerRep, p.value(w[0], w[1]))
	}
	r.summarise()
	l.logf("ratio %s: median %.3f, spread %.1f %% (%.3f – %.3f)", p.Name, r.Median, 100*r.Spread, r.Min, r.Max)
	return r, nil
}

// repetition is one repetition of measurePair: the windows of the
// configuration (0) and of the baseline (1).
func (l *Lab) repetition(ctx context.Context, run ratioRun, rep int, spans int64) ([2]Window, error) {
	var w [2]Window
	var both [2]*collector
	defer func() {
		for _, c := range both {
			if c != nil {
				c.stop()
			}
		}
	}()
	// Place 0 starts first, at the first address.
	places := [2]int{rep % 2, 1 - rep%2}
	for _, i := range []int{places[0], places[1]} {
		slot := 0
		if places[1] == i {
			slot = 1
		}
		c, err := l.start(ctx, run.scenarios[i].withGCTrigger(), fmt.Sprintf("ratio-%s-%d-%s", run.Name, rep+1, []string{"config", "baseline"}[i]),
			l.host(10+slot), l.opts.CollectorCPU, ratioEnv)
		if err != nil {
			return w, err
		}
		both[i] = c
	}
	if _, err := l.sideBySide(ctx, both, places, l.opts.RatioRate, max(int64(l.opts.RatioWarmup*float64(spans)), 1)); err != nil {
		return w, fmt.Errorf("warm-up: %w", err)
	}
	if rep == 0 && l.opts.RatioProfile > 0 {
		if err := l.profilePair(ctx, run, both, places); err != nil {
			return w, fmt.Errorf("profile: %w", err)
		}
	}
	w, err := l.sideBySide(ctx, both, places, l.opts.RatioRate, spans)
	if err != nil {
		return w, err
	}
	for i, c := range both {
		if !w[i].OK {
			return w, fmt.Errorf("%s: %s", c.proc.Member().Name, w[i].Why)
		}
	}
	return w, nil
}

// ratioEnv is the ratio collectors' Go runtime debug setting: GC trace
// lines (gcTraceEnv) and memory the runtime gives back freed lazily
// (MADV_FREE, madvdontneed=0) rather than at once. Between windows a
// collector idles for a minute and the runtime returns its heap to the
// kernel, which the next window faults in again: 9,000 to 173,000 faults a
// window, a quarter of some windows' CPU, where a gateway under steady load
// keeps its heap. With MADV_FREE the pages stay while the machine has
// memory to spare (it has here), as under steady load.
var ratioEnv = map[string]string{"GODEBUG": gcTraceEnv + ",madvdontneed=0"}

// sideBySide collects both collectors' garbage, then sends spans spans at
// rate to each at once (their generators started in order) and measures
// both windows.
func (l *Lab) sideBySide(ctx context.Context, both [2]*collector, order [2]int, rate float64, spans int64) ([2]Window, error) {
	var w [2]Window
	for _, c := range both {
		if err := c.collectGarbage(ctx); err != nil {
			return w, err
		}
	}
	var errs [2]error
	var wg sync.WaitGroup
	for _, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w[i], errs[i] = l.spansWindow(ctx, both[i], rate, spans)
		}()
		// The second generator starts once the first has connected.
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	return w, errors.Join(errs[0], errs[1])
}

func (r *Ratio) summarise() {
	if len(r.PerRep) == 0 {
		return
	}
	if cfg, base := pool(r.Windows), pool(r.BaselineWindows); cfg.CPUPerMillion > 0 && base.CPUPerMillion > 0 {
		r.Pooled = r.value(cfg, base)
	}
	r.Median, r.Min, r.Max = median(r.PerRep), slices.Min(r.PerRep), slices.Max(r.PerRep)
	if r.Median > 0 {
		r.Spread = (r.Max - r.Min) / r.Median
	}
}

// Markdown is the ratios' section of the report.
func (rt *Ratios) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Ratios\n\nEach ratio takes %d repetitions. A repetition starts the configuration and its baseline afresh, side by side on the collector CPU (their places, address and start order, swap every repetition), warms both with %s spans that are not counted, runs a full GC in each, and then loads both at once, each from its own generator: %s spans at %s spans/s to each. A window counts its collector's CPU (from `/proc/<pid>/stat`) from the first request until it is idle again after its hold, so it holds all the work those spans cost: receive, hold, decide, export. Both windows of a repetition see the same machine; the collectors run with `GODEBUG=madvdontneed=0`, so that the heap the runtime frees while idle is not faulted in again by the next window. Speed ratios are spans per CPU-second over the baseline's (higher is cheaper), cost ratios CPU per span over the baseline's; the spread is (max − min) ÷ median of the repetitions' ratios; pooled is the ratio of all windows together (every window's CPU summed over every window's spans).\n\n",
		rt.Reps, count(rt.warmupSpans()), count(float64(rt.Spans)), count(rt.Rate))
	b.WriteString("| ratio | what | median | spread | min – max | pooled | per repetition | target |\n|---|---|--:|--:|--:|--:|---|--:|\n")
	for _, r := range rt.Ratios {
		if r.Failed != "" {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | |\n", r.Name, r.What, strings.ReplaceAll(r.Failed, "|", "/"))
			continue
		}
		var per []string
		for _, v := range r.PerRep {
			per = append(per, fmt.Sprintf("%.3f", v))
		}
		target := "–"
		switch {
		case r.Target == 0:
		case r.Kind == KindSelf:
			target = fmt.Sprintf("spread ≤ %.0f %%", 100*r.Target)
		case r.Kind == KindSpeed:
			target = fmt.Sprintf("≥ %.2f", r.Target)
		default:
			target = fmt.Sprintf("≤ %.2f", r.Target)
		}
		if r.Target != 0 {
			if r.Met() {
				target += " ✓"
			} else {
				target += " ✗"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.1f %% | %.3f – %.3f | %.3f | %s | %s |\n", r.Name, r.What, r.Median, 100*r.Spread, r.Min, r.Max, r.Pooled, strings.Join(per, ", "), target)
	}
	b.WriteString("\nThe same windows on user CPU alone, and the page faults of each side (median over the repetitions): the kernel's share — page faults, system calls — is where windows of one configuration differ most on this machine; user CPU leaves out system calls the configurations really make, so it is a diagnostic, not the ratio.\n\n| ratio | median, user CPU | spread | per repetition | faults per window, configuration | baseline |\n|---|--:|--:|---|--:|--:|\n")
	for _, r := range rt.Ratios {
		if r.Failed != "" {
			continue
		}
		u := r.userCPU()
		var per []string
		for _, v := range u.PerRep {
			per = append(per, fmt.Sprintf("%.3f", v))
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.1f %% | %s | %s | %s |\n", r.Name, u.Median, 100*u.Spread, strings.Join(per, ", "),
			count(medianOf(r.Windows, func(w Window) float64 { return float64(w.MinorFaults) })),
			count(medianOf(r.BaselineWindows, func(w Window) float64 { return float64(w.MinorFaults) })))
	}
	b.WriteString("\nRSS at the end of each window, median over the repetitions:\n\n| ratio | configuration | RSS | baseline | RSS |\n|---|---|--:|---|--:|\n")
	for _, r := range rt.Ratios {
		if r.Failed != "" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Name, r.Config, mibs(medianRSS(r.Windows)), r.Baseline, mibs(medianRSS(r.BaselineWindows)))
	}
	return b.String()
}

// warmupSpans is how many spans each repetition's warm-up sent.
func (rt *Ratios) warmupSpans() float64 {
	w := rt.Warmup
	if w == 0 {
		w = 0.25
	}
	return w * float64(rt.Spans)
}

// userCPU is the ratio taken again on the windows' user CPU alone.
func (r Ratio) userCPU() Ratio {
	u := Ratio{Pair: r.Pair}
	user := func(w Window) Window {
		w.CPU, w.CPUPerMillion = w.UserCPU, ratio(w.UserCPU*1e6, float64(w.Spans))
		return w
	}
	for i := range min(len(r.Windows), len(r.BaselineWindows)) {
		cfg, base := user(r.Windows[i]), user(r.BaselineWindows[i])
		u.Windows, u.BaselineWindows = append(u.Windows, cfg), append(u.BaselineWindows, base)
		u.PerRep = append(u.PerRep, r.value(cfg, base))
	}
	u.summarise()
	return u
}

func medianOf(ws []Window, f func(Window) float64) float64 {
	v := make([]float64, len(ws))
	for i, w := range ws {
		v[i] = f(w)
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

func medianRSS(ws []Window) int64 {
	return int64(medianOf(ws, func(w Window) float64 { return float64(w.RSS) }))
}

// pool is the windows as one: their CPU over their spans.
func pool(ws []Window) Window {
	var cpu float64
	var spans int64
	for _, w := range ws {
		cpu += w.CPU
		spans += w.Spans
	}
	return Window{CPUPerMillion: ratio(cpu*1e6, float64(spans))}
}
