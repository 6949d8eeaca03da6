package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// Options of a benchmark run. Durations and repetitions default to the
// values of issue 9; shorten them for a quick check of the harness.
type Options struct {
	// Root is the repository; configs are read relative to it.
	Root string
	// Collector and Loadgen are the built binaries; Benchstat, if set, sums
	// up the micro-benchmarks.
	Collector, Loadgen, Benchstat string
	// Out receives the results (README.md, chart, JSON, micro-benchmarks);
	// raw runs go to Out/raw/<time>.
	Out string
	// Net is the first three octets of the loopback addresses used.
	Net string
	// CollectorCPU runs the collector under test; LoadCPU the generator and
	// the null sinks. Pin false leaves them unpinned (not comparable).
	CollectorCPU, LoadCPU int
	Pin                   bool

	// Duration of each measured window; Warmup before it (plus the
	// configuration's hold time, e.g. the gateway's decision_wait); Probe of
	// the rate-max run that starts the search for the highest sustained rate.
	Duration, Warmup, Probe time.Duration
	// Tries of the sustained-rate search, each at most Step times the last
	// target (lower when the collector accepted less).
	Tries int
	Step  float64
	// FixedRate in spans/s, common to every configuration.
	FixedRate float64
	// Reps of the ratios, each window RatioRate × RatioDuration spans to
	// each of the pair's collectors at once (both share the collector CPU:
	// twice RatioRate must stay well inside one core). A window must hold
	// several GC cycles of the gateway (GOGC 400 runs about one per 200,000
	// spans here), or one cycle more or less moves its CPU by more than the
	// ratios are to resolve.
	Reps          int
	RatioRate     float64
	RatioDuration time.Duration
	// RatioWarmup is the share of a window each repetition sends first,
	// not counted, so that both collectors' heaps, maps and queue files
	// have reached their size. A quarter was too little for the shipped
	// gateway (GOGC 400 grows its heap to five times what is live): its
	// windows still took 50,000–70,000 page faults, and the ratio against
	// the seed's moved from 1.08 (spread 14 %) to 1.40 (3.5 %) at 100 %
	// with three quarters.
	RatioWarmup float64
	// MemSteps of MemTraces traces each for the tail-sampling memory figure.
	MemSteps, MemTraces int
	// ProfileSeconds of CPU profile of the gateway at its highest rate.
	ProfileSeconds int
	// RatioProfile, when positive, adds to each pair's first repetition a
	// side-by-side window, not counted, in which both collectors are
	// profiled for this many seconds (raw/<pair>-{config,baseline}-cpu.pprof,
	// their shares in the log): where the CPU of a ratio goes.
	RatioProfile int
	// MicroCount is -count of the Go micro-benchmarks (0: skip them).
	MicroCount int
	// Shape of the generator's requests.
	Shape loadgen.Shape
	// Conns and Inflight of the generator.
	Conns, Inflight int
	// Only limits the table to these configurations (empty: all).
	Only []string
	// Pairs limits the ratios to these (empty: all of bench.Pairs).
	Pairs []string
	// Compare, when set, is one ratio instead of Pairs: the base scenario
	// with CompareOverlays and CompareEnv over it, against itself as is (for
	// example a change of your own to the shipped gateway).
	Compare         string
	CompareOverlays []string
	CompareEnv      map[string]string
	// Skip parts: "table", "ratios", "memory", "profile", "micro".
	Skip []string
	// Readme, when set, is the README whose bench markers receive the table.
	Readme string
	// Log receives progress.
	Log io.Writer
}

// DefaultOptions are the values: 30 s windows, 20,000 spans/s, five
// repetitions.
func DefaultOptions() Options {
	return Options{
		Root: ".", Collector: "bin/otelcol-tiered", Loadgen: "bin/loadgen", Out: "bench/results",
		Net: "127.0.95", CollectorCPU: 0, LoadCPU: 1, Pin: true,
		Duration: 30 * time.Second, Warmup: 5 * time.Second, Probe: 10 * time.Second,
		Tries: 3, Step: 0.9,
		FixedRate: 20_000,
		Reps:      5, RatioRate: 16_000, RatioDuration: 50 * time.Second, RatioWarmup: 0.75,
		MemSteps: 6, MemTraces: 20_000,
		ProfileSeconds: 20,
		MicroCount:     6,
		Shape:          loadgen.DefaultConfig().Shape,
		// Agents export to a gateway with many requests in flight (the
		// sending queue's consumers): enough to ride over a collector's
		// short pauses.
		Conns: 4, Inflight: 8,
	}
}

// Validate names each option out of range.
func (o Options) Validate() error {
	var errs []error
	if ip := net.ParseIP(o.Net + ".1"); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		errs = append(errs, fmt.Errorf("net: %q is not the prefix of an IPv4 loopback network", o.Net))
	}
	if o.Pin && o.CollectorCPU == o.LoadCPU {
		errs = append(errs, fmt.Errorf("collector-cpu, load-cpu: both %d; the collector needs a CPU of its own", o.LoadCPU))
	}
	for name, d := range map[string]time.Duration{"duration": o.Duration, "probe": o.Probe, "ratio-duration": o.RatioDuration} {
		if d < time.Second {
			errs = append(errs, fmt.Errorf("%s: %s is shorter than a second", name, d))
		}
	}
	if o.Warmup < 0 {
		errs = append(errs, fmt.Errorf("warmup: must not be negative (got %s)", o.Warmup))
	}
	if o.FixedRate <= 0 {
		errs = append(errs, fmt.Errorf("rate: must be positive (got %g)", o.FixedRate))
	}
	if o.RatioRate <= 0 {
		errs = append(errs, fmt.Errorf("ratio-rate: must be positive (got %g)", o.RatioRate))
	}
	if o.Tries < 1 || o.Step <= 0 || o.Step >= 1 {
		errs = append(errs, fmt.Errorf("tries, step: need at least one try and a step in (0, 1) (got %d, %g)", o.Tries, o.Step))
	}
	if o.Reps < 1 {
		errs = append(errs, fmt.Errorf("reps: must be at least 1 (got %d)", o.Reps))
	}
	if o.MemSteps < 2 || o.MemTraces < 1 {
		errs = append(errs, fmt.Errorf("mem-steps, mem-traces: need at least 2 steps of 1 trace (got %d, %d)", o.MemSteps, o.MemTraces))
	}
	// Positive: a run's record of 0 means one from before it was recorded.
	if o.RatioWarmup <= 0 || o.RatioWarmup > 4 {
		errs = append(errs, fmt.Errorf("ratio-warmup: must be within (0, 4] windows (got %g)", o.RatioWarmup))
	}
	if o.RatioProfile < 0 {
		errs = append(errs, fmt.Errorf("ratio-profile: must not be negative (got %d)", o.RatioProfile))
	}
	if o.ProfileSeconds < 1 {
		errs = append(errs, fmt.Errorf("profile-seconds: must be at least 1 (got %d)", o.ProfileSeconds))
	}
	if err := o.Shape.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, n := range o.Only {
		if !slices.ContainsFunc(Scenarios(), func(s Scenario) bool { return s.Name == n }) {
			errs = append(errs, fmt.Errorf("only: no configuration %q", n))
		}
	}
	for _, n := range o.Pairs {
		if _, ok := PairByName(n); !ok {
			errs = append(errs, fmt.Errorf("pairs: no ratio %q", n))
		}
	}
	if o.Compare != "" {
		if _, ok := ScenarioByName(o.Compare); !ok {
			errs = append(errs, fmt.Errorf("compare: no configuration %q", o.Compare))
		}
		if len(o.CompareOverlays) == 0 && len(o.CompareEnv) == 0 {
			errs = append(errs, errors.New("compare: needs -compare-overlay or -compare-env: what to change"))
		}
	}
	for _, s := range o.Skip {
		switch s {
		case "table", "ratios", "memory", "profile", "micro":
		default:
			errs = append(errs, fmt.Errorf("skip: %q is not one of table, ratios, memory, profile, micro", s))
		}
	}
	return errors.Join(errs...)
}

func (o Options) skips(part string) bool {
	for _, s := range o.Skip {
		if s == part {
			return true
		}
	}
	return false
}
