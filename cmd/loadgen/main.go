// Command loadgen sends OTLP traces to a collector from requests built once up
// front, so that its CPU goes to the wire and a benchmark measures the
// collector, not the generator. See `loadgen -h` and the README's "Load
// generator" section.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// Exit codes.
const (
	exitOK      = 0
	exitProblem = 1 // refused or failed requests, or the run could not start
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, live bool) int {
	cfg, asJSON, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		fmt.Fprintln(stderr, "run `loadgen -h` for the options")
		return exitUsage
	}
	var tick func(loadgen.Progress)
	if live {
		tick = func(p loadgen.Progress) { fmt.Fprintf(stderr, "\r\033[K%s", p.Line()) }
	}
	sum, err := loadgen.Run(ctx, cfg, tick)
	if live {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitProblem
	}
	if asJSON {
		err = sum.WriteJSON(stdout)
	} else {
		err = sum.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitProblem
	}
	if p := sum.Problem(); p != "" {
		fmt.Fprintf(stderr, "loadgen: %s\n", p)
		return exitProblem
	}
	return exitOK
}

func parseArgs(args []string, stderr io.Writer) (loadgen.Config, bool, error) {
	cfg := loadgen.DefaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	// Errors are printed once, by run; the option list only on -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	usage := func() {
		fs.SetOutput(stderr)
		fmt.Fprint(stderr, `loadgen sends OTLP traces to a collector, from requests built once up front.

usage: loadgen [options]

Every run is bounded: by --duration, by --count, or both (whichever comes first).
Exit status: 0 when the collector accepted every span; 1 when it refused or
failed any request (the summary names the gRPC status or HTTP code), or the run
could not start; 2 for bad options.

options:
`)
		fs.PrintDefaults()
	}
	endpoint := fs.String("endpoint", "", "collector OTLP `host:port` (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http)")
	protocol := fs.String("protocol", string(cfg.Protocol), "grpc or http (OTLP/HTTP protobuf on /v1/traces)")
	fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "none or gzip (gzip compresses every request: costs the generator CPU)")
	rate := fs.String("rate", "10000", "target `spans/s`, or max: as fast as the collector answers")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "stop after this long (0: no time bound; needs --count)")
	fs.Int64Var(&cfg.Count, "count", 0, "stop after this many `spans` (a whole number of requests; 0: no count bound)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections to the collector")
	fs.IntVar(&cfg.Inflight, "inflight", cfg.Inflight, "requests outstanding at most on each connection")
	fs.IntVar(&cfg.Shape.SpansPerTrace, "spans-per-trace", cfg.Shape.SpansPerTrace, "spans of each trace (all in one request)")
	fs.IntVar(&cfg.Shape.TracesPerRequest, "traces-per-request", cfg.Shape.TracesPerRequest, "traces in each request")
	fs.IntVar(&cfg.Shape.Attributes, "attributes", cfg.Shape.Attributes, "string attributes on each span")
	fs.IntVar(&cfg.Shape.AttributeSize, "attribute-size", cfg.Shape.AttributeSize, "`bytes` of each attribute value")
	fs.IntVar(&cfg.Shape.Services, "services", cfg.Shape.Services, "services (resources) the spans of a request are spread over")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the trace IDs and attribute values: the same seed sends the same traces")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", cfg.DialTimeout, "how long to wait for each connection")
	fs.DurationVar(&cfg.ExportTimeout, "timeout", cfg.ExportTimeout, "how long to wait for each request's answer")
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q (options start with -)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["count"] && !set["duration"] {
		cfg.Duration = 0
	}
	cfg.Protocol = loadgen.Protocol(*protocol)
	cfg.Endpoint = *endpoint
	if cfg.Endpoint == "" {
		cfg.Endpoint = "127.0.0.1:4317"
		if cfg.Protocol == loadgen.HTTP {
			cfg.Endpoint = "127.0.0.1:4318"
		}
	}
	r, err := parseRate(*rate)
	if err != nil {
		return cfg, false, err
	}
	cfg.Rate = r
	return cfg, *asJSON, cfg.Validate()
}

// parseRate reads "max" (0) or a positive number of spans per second.
func parseRate(s string) (float64, error) {
	if strings.EqualFold(s, "max") {
		return 0, nil
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r <= 0 {
		return 0, fmt.Errorf("rate: %q is not a positive number of spans per second, or max", s)
	}
	return r, nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
