// Command bench measures the built collector in every tier configuration and
// writes the results to bench/results (`make bench`). See `bench -h`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/otelcol-tiered/otelcol-tiered/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, render, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	o.Log = stdout
	if render != "" {
		if _, err := bench.Render(render, o.Out, o.Readme); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "report of %s written to %s\n", render, o.Out)
		return 0
	}
	res, err := bench.Run(ctx, o)
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bench: interrupted; what was measured is in %s/raw\n", o.Out)
		return 1
	}
	if res != nil && len(res.Rows) > 0 {
		fmt.Fprintf(stdout, "\n%s\n%s", res.Table(), res.SizingTable())
		fmt.Fprintf(stdout, "\nresults in %s\n", o.Out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func parseArgs(args []string, stderr io.Writer) (bench.Options, string, error) {
	o := bench.DefaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.Root, "root", o.Root, "the repository (configs are read from it)")
	fs.StringVar(&o.Collector, "collector", o.Collector, "the built collector")
	fs.StringVar(&o.Loadgen, "loadgen", o.Loadgen, "the built load generator")
	fs.StringVar(&o.Benchstat, "benchstat", o.Benchstat, "benchstat, to sum up the micro-benchmarks (empty: raw output only)")
	fs.StringVar(&o.Out, "out", o.Out, "results directory (raw runs under out/raw)")
	fs.StringVar(&o.Readme, "readme", o.Readme, "README whose <!-- bench:table --> markers receive the table (empty: none)")
	fs.StringVar(&o.Net, "net", o.Net, "first three octets of the loopback addresses used")
	fs.IntVar(&o.CollectorCPU, "collector-cpu", o.CollectorCPU, "CPU of the collector under test")
	fs.IntVar(&o.LoadCPU, "load-cpu", o.LoadCPU, "CPU of the generator and the null sinks")
	fs.BoolVar(&o.Pin, "pin", o.Pin, "pin with taskset (false: figures are not per core)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "each measured window")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up before a window (gateways add their decision_wait)")
	fs.DurationVar(&o.Probe, "probe", o.Probe, "rate-max probe that starts the search for the highest sustained rate")
	fs.IntVar(&o.Tries, "tries", o.Tries, "tries of the sustained-rate search")
	fs.Float64Var(&o.Step, "step", o.Step, "each try's target over the last one's")
	fs.Float64Var(&o.FixedRate, "rate", o.FixedRate, "the common rate, spans/s")
	fs.IntVar(&o.Reps, "reps", o.Reps, "repetitions of the ratios (each with fresh collectors)")
	fs.Float64Var(&o.RatioRate, "ratio-rate", o.RatioRate, "the rate of the ratios' windows, spans/s, to each of a pair's two collectors at once")
	fs.DurationVar(&o.RatioDuration, "ratio-duration", o.RatioDuration, "each window of the ratios holds rate × this many spans")
	fs.Float64Var(&o.RatioWarmup, "ratio-warmup", o.RatioWarmup, "each repetition first sends this share of a window, not counted")
	fs.IntVar(&o.RatioProfile, "ratio-profile", o.RatioProfile, "seconds of CPU profile of both collectors of each pair, in a window of its own in the first repetition (0: none)")
	fs.IntVar(&o.MemSteps, "mem-steps", o.MemSteps, "steps of the tail-sampling memory measurement")
	fs.IntVar(&o.MemTraces, "mem-traces", o.MemTraces, "traces per memory step")
	fs.IntVar(&o.ProfileSeconds, "profile-seconds", o.ProfileSeconds, "CPU profile length of the gateway at its highest rate")
	fs.IntVar(&o.MicroCount, "micro-count", o.MicroCount, "-count of the Go micro-benchmarks (0: skip)")
	fs.IntVar(&o.Shape.SpansPerTrace, "spans-per-trace", o.Shape.SpansPerTrace, "generator: spans per trace")
	fs.IntVar(&o.Shape.TracesPerRequest, "traces-per-request", o.Shape.TracesPerRequest, "generator: traces per request")
	fs.IntVar(&o.Shape.Attributes, "attributes", o.Shape.Attributes, "generator: attributes per span")
	fs.IntVar(&o.Shape.AttributeSize, "attribute-size", o.Shape.AttributeSize, "generator: bytes per attribute value")
	fs.IntVar(&o.Conns, "conns", o.Conns, "generator: connections")
	fs.IntVar(&o.Inflight, "inflight", o.Inflight, "generator: requests in flight per connection")
	only := fs.String("only", "", "comma-separated configurations of the table (default all): "+names())
	pairs := fs.String("pairs", "", "comma-separated ratios to take (default all): "+pairNames())
	compare := fs.String("compare", "", "take one ratio instead: this configuration changed by -compare-overlay and -compare-env, over itself as is")
	compareOverlays := fs.String("compare-overlay", "", "comma-separated config files merged over the -compare configuration")
	compareEnv := fs.String("compare-env", "", "comma-separated NAME=value set for the changed -compare configuration (e.g. GOGC=200)")
	skip := fs.String("skip", "", "comma-separated parts to skip: table, ratios, memory, profile, micro")
	render := fs.String("render", "", "measure nothing: rewrite the report from this results.json (of an earlier run)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprint(stderr, "bench measures the built collector in every tier configuration (see the README's Sizing section).\n\nusage: bench [options]\n\noptions:\n")
			fs.PrintDefaults()
		}
		return o, "", err
	}
	if fs.NArg() > 0 {
		return o, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.Only, o.Pairs, o.Skip = list(*only), list(*pairs), list(*skip)
	o.Compare, o.CompareOverlays = *compare, list(*compareOverlays)
	for _, kv := range list(*compareEnv) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return o, "", fmt.Errorf("compare-env: %q is not NAME=value", kv)
		}
		if o.CompareEnv == nil {
			o.CompareEnv = map[string]string{}
		}
		o.CompareEnv[k] = v
	}
	return o, *render, o.Validate()
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func names() string {
	var n []string
	for _, s := range bench.Scenarios() {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

func pairNames() string {
	var n []string
	for _, p := range bench.Pairs {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}
