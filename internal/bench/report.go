package bench

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// ChartFile is the chart's name in the results directory.
const ChartFile = "spans-per-core.svg"

func count(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "–"
	}
	return loadgen.Count(int64(math.Round(v)))
}

func times(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func fixed(v float64, digits int) string {
	if v == 0 || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", digits, v)
}

func mibs(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/mib)
}

func secs(s float64) string { return fmt.Sprintf("%g s", s) }

// Table is the main table in Markdown: what the README's Sizing section shows.
func (r *Results) Table() string {
	var b strings.Builder
	rate := count(r.Rig.FixedRate)
	fmt.Fprintf(&b, "| configuration | spans/s per core | × null | highest rate sustained %s (collector's cores there) | CPU-s per million spans at %s spans/s | × null | RSS at %s spans/s | × null | held back by |\n",
		secs(r.Rig.Duration), rate, rate)
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, row := range r.Rows {
		if !row.Measured {
			fmt.Fprintf(&b, "| %s | not measured | | | | | | | %s |\n", row.Title, row.Skipped)
			continue
		}
		sustained := "–"
		if row.Max.OK {
			sustained = fmt.Sprintf("%s (%.2f)", count(row.Max.Rate), row.Max.Cores)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.Title,
			count(row.PerCore), times(row.MaxVsNull), sustained, fixed(row.Fixed.CPUPerMillion, 1), times(row.CPUVsNull),
			mibs(row.Fixed.RSS), times(row.RSSVsNull), row.HeldBack)
	}
	return b.String()
}

// SizingTable gives each tier's figures in the topology extension's units.
func (r *Results) SizingTable() string {
	var b strings.Builder
	b.WriteString("| configuration | cores per 10,000 spans/s (from the highest rate) | cores per 10,000 spans/s (at the common rate) | memory per 10,000 spans/s | base memory (idle RSS) |\n")
	b.WriteString("|---|--:|--:|--:|--:|\n")
	for _, row := range r.Rows {
		if !row.Measured {
			continue
		}
		s := row.Sizing
		fmt.Fprintf(&b, "| %s | %s | %s | %s MiB | %s MiB |\n", row.Name, fixed(s.CoresPer10k, 3), fixed(s.CoresPer10kAtFixed, 3),
			fixed(s.MemoryPer10kMiB, 0), fixed(s.BaseMemoryMiB, 0))
	}
	return b.String()
}

// share is the profile's share of CPU of the named cost.
func (p *Profile) share(name string) (float64, bool) {
	if p == nil {
		return 0, false
	}
	for _, c := range p.ByCost {
		if c.Name == name {
			return c.Share, true
		}
	}
	return 0, false
}

// Markdown is the whole report, bench/results/README.md.
func (r *Results) Markdown() string {
	var b strings.Builder
	m, rig := r.Machine, r.Rig
	b.WriteString("# Benchmark results\n\n")
	b.WriteString("Written by `make bench` (`cmd/bench`); do not edit by hand. Raw runs (logs, generator summaries, the CPU profile) are under `raw/`, which git ignores.\n\n")
	fmt.Fprintf(&b, "- **When**: %s, %.0f minutes; commit `%s`.\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Minutes, m.Commit)
	fmt.Fprintf(&b, "- **Machine**: %s, %d CPUs, %s, %s. Load average before %s, after %s.\n", m.CPUModel, m.CPUs, m.Kernel, m.Go, m.LoadBefore, m.LoadAfter)
	pin := fmt.Sprintf("the collector under test alone on CPU %d (`taskset`, `GOMAXPROCS=1`); the generator (`bin/loadgen`) and the null sinks on CPU %d", rig.CollectorCPU, rig.LoadCPU)
	if !rig.Pinned {
		pin = "NOT pinned (figures are not per core)"
	}
	fmt.Fprintf(&b, "- **Rig**: %s. Every collector gets the shipped tier config with its backends pointed at null sinks (our binary, `bench/configs/nullsink.yaml`) and, unless its row says otherwise, `SAMPLING_PERCENTAGE=100`, so every span flows through.\n", pin)
	fmt.Fprintf(&b, "- **Load**: OTLP/gRPC, uncompressed, requests of %d spans (%d traces × %d spans, %d attributes of %d bytes each: %s bytes, %d bytes a span), %d connections × %d requests in flight, every trace ID new. Each window lasts %s after a warm-up of %s (plus `decision_wait`, 10 s, on gateways). A rate is sustained when no request is refused or failed, the collector drops nothing (its own counters) and it accepts %.0f %% of the target; each try starts a fresh collector. The highest is searched down from a %s rate-max probe, except on gateways: driven at rate max they take spans in faster than they decide on them and stall, so their search starts from their CPU per span at the common rate and goes up by 25 %% while sustained, then halves the gap to the first rate that is not.\n\n",
		rig.SpansPerReq, rig.SpansPerReq/max(rig.SpansPerTrace, 1), rig.SpansPerTrace, rig.Attributes, rig.AttributeSize, loadgen.Count(int64(rig.RequestBytes)),
		rig.RequestBytes/max(rig.SpansPerReq, 1), rig.Conns, rig.Inflight, secs(rig.Duration), secs(rig.Warmup), 100*sustainShare, secs(rig.Probe))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> **Note**: %s\n\n", n)
	}

	b.WriteString("## Throughput and cost per configuration\n\n")
	b.WriteString(r.Table())
	fmt.Fprintf(&b, "\n![spans/s per core](%s)\n\n", ChartFile)
	b.WriteString("How each configuration ran (paths from the repository; `raw/…` files are generated from the shipped config's lists):\n\n")
	for _, row := range r.Rows {
		if row.Command == "" {
			continue
		}
		fmt.Fprintf(&b, "- `%s`: `%s%s`\n", row.Name, envPrefix(row.Name), row.Command)
		if row.Overlay != "" {
			fmt.Fprintf(&b, "\n  ```yaml\n  %s\n  ```\n", strings.ReplaceAll(strings.TrimSpace(row.Overlay), "\n", "\n  "))
		}
	}
	b.WriteString("\nEvery collector's environment: `GOMAXPROCS=1`, `SAMPLING_PERCENTAGE=100`, `BACKEND_ENDPOINT` and `GATEWAY_ENDPOINT` at a null sink, `GATEWAY_RESOLVER` listing the three null sinks on the agent and the gateway itself on gateways (it owns every trace it gets, as behind agents), `FILE_STORAGE_DIR` in the raw directory. Gateways are searched for their highest rate with `NUM_TRACES=1000000`: the shipped 100,000 caps a replica at 100,000 ÷ `decision_wait` 10 s = 10,000 traces/s whatever its CPU (above it tail sampling drops traces before their decision).\n")
	b.WriteString("\n## Sizing figures for the topology extension\n\n")
	b.WriteString("Cores and memory per 10,000 spans/s, in two estimates: from the spans/s per core at the highest sustained rate, and from the CPU per span at the common rate (batches are fuller at high rates, so the cost per span differs); size with the larger. Memory is the growth of RSS from idle to the common rate, scaled to 10,000 spans/s, on top of the idle RSS; on gateways it grows with `decision_wait` (below).\n\n")
	b.WriteString(r.SizingTable())

	if rt := r.Ratios; rt != nil {
		b.WriteString(rt.Markdown())
		if share, ok := r.Profile.share("stickycheck"); ok {
			fmt.Fprintf(&b, "\nThe CPU profile of the shipped gateway (below) gives stickycheck's direct cost, free of the GC's pacing: stickycheck with its audit takes %.1f %% of the gateway's CPU, a ratio of %.3f over the same gateway without it.\n", 100*share, 1/(1-share))
		}
	}

	if mem := r.Memory; mem != nil {
		fmt.Fprintf(&b, "\n## Memory of tail sampling on the gateway\n\nThe shipped gateway, traces of %d spans of %d bytes each (serialised), sent in steps; RSS and the Go heap against the traces tail sampling holds (`otelcol_processor_tail_sampling_sampling_traces_on_memory`). Idle RSS %s.\n\n",
			mem.SpansPerTrace, mem.SpanBytes, mibs(mem.IdleRSS))
		b.WriteString("| traces held | RSS bytes per trace | live heap bytes per trace | steps (traces → RSS, live heap) |\n|---|--:|--:|---|\n")
		for _, ph := range mem.Phases {
			var steps []string
			for _, st := range ph.Steps {
				steps = append(steps, fmt.Sprintf("%s → %s, %s", count(st.Traces), mibs(st.RSS), mibs(int64(st.HeapAlloc))))
			}
			fmt.Fprintf(&b, "| %s (`decision_wait` %s) | %s | %s | %s |\n", ph.Name, ph.DecisionWait, perTrace(ph.RSSPerTrace), perTrace(ph.HeapPerTrace), strings.Join(steps, ", "))
		}
		if len(mem.Phases) == 2 {
			a, d := mem.Phases[0].HeapPerTrace, mem.Phases[1].HeapPerTrace
			decided := fmt.Sprintf("about %s live bytes each; at the shipped `num_traces` of 100,000 about %s MiB once the table is full", count(d), fixed(d*100_000/mib, 0))
			if d <= 0 {
				decided = "too few bytes each for this measurement to resolve: the live heap moved more between steps than the decided traces weigh"
			}
			fmt.Fprintf(&b, "\nTail sampling keeps up to `num_traces` traces: those within `decision_wait` with their spans (about %s live bytes each here), the others decided and kept without their spans until newer ones push them out (%s). With T traces arriving per second it holds T × `decision_wait` traces with spans. RSS runs above the live heap by what the Go GC leaves between cycles (up to 2× with the default GOGC).\n",
				count(a), decided)
		}
	}

	if p := r.Profile; p != nil && len(p.ByCost) > 0 {
		fmt.Fprintf(&b, "\n## Where the gateway's CPU goes\n\nCPU profile (`pprof` extension) of the shipped gateway, %d s at %s spans/s. Each sample is given to the first of these costs that its stack holds (so the allocations of decoding count as decoding). Raw profile: `%s` (read it with `go tool pprof bin/otelcol-tiered <file>`).\n\n",
			p.Seconds, count(p.Rate), "raw/…/gateway-cpu.pprof")
		b.WriteString("| cost | share of CPU |\n|---|--:|\n")
		for _, c := range p.ByCost {
			fmt.Fprintf(&b, "| %s | %.1f %% |\n", c.Name, 100*c.Share)
		}
		b.WriteString("\nTop functions (flat):\n\n| function | flat |\n|---|--:|\n")
		for _, c := range p.Flat {
			fmt.Fprintf(&b, "| `%s` | %.1f %% |\n", c.Name, 100*c.Share)
		}
	}

	b.WriteString("\n## The instrument\n\nThe generator must push at least five times the spans per CPU-second of the collector it loads, so that a figure measures the collector. Generator and null sinks share the load CPU.\n\n")
	b.WriteString("| configuration | window | generator spans per CPU-second | collector spans per CPU-second | generator ÷ collector | load CPU busy |\n|---|---|--:|--:|--:|--:|\n")
	for _, row := range r.Rows {
		if !row.Measured {
			continue
		}
		for _, w := range []struct {
			name string
			w    Window
		}{{"common rate", row.Fixed}, {"rate max (probe)", row.Probe}, {"highest sustained", row.Max}} {
			if w.w.Spans == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f %% |\n", row.Name, w.name, count(w.w.GenSpansPerCPU), count(w.w.CollectorSpansPerCPU), times(w.w.GenOverCollector), 100*w.w.LoadCores)
		}
	}

	if mc := r.Micro; mc != nil {
		b.WriteString("\n## Go micro-benchmarks\n\n")
		fmt.Fprintf(&b, "`%s`, output in [`micro.txt`](micro.txt) (benchstat's input format). Compare two runs with `benchstat old.txt bench/results/micro.txt`.\n", mc.Command)
		if mc.Summary != "" {
			fmt.Fprintf(&b, "\n```\n%s```\n", mc.Summary)
		}
	}

	b.WriteString("\n## Measure on your machine\n\n```sh\nmake bench                          # the whole run, about 102 minutes on 2 CPUs\ngo run ./cmd/bench -h               # durations, rates, repetitions, CPUs, parts to skip\n```\n\nThe machine needs two CPUs or more and `taskset` (util-linux). Compare the ratios to the null pipeline rather than the raw rates when machines differ.\n")
	return b.String()
}

// envPrefix shows the environment a configuration adds to the rig's.
func envPrefix(name string) string {
	s, ok := ScenarioByName(name)
	if !ok || len(s.Env) == 0 {
		return ""
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, s.Env[k])
	}
	return b.String()
}

var readmeMarkers = regexp.MustCompile(`(?s)(<!-- bench:table:begin -->\n).*?(<!-- bench:table:end -->)`)

// UpdateReadme replaces the text between the bench markers of a README with
// the table and the machine it was measured on.
func (r *Results) UpdateReadme(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !readmeMarkers.Match(b) {
		return fmt.Errorf("%s has no <!-- bench:table:begin --> … <!-- bench:table:end --> markers", path)
	}
	m := r.Machine
	body := fmt.Sprintf("Measured %s on %s, %d CPUs (commit `%s`, load average %s before the run); details in [bench/results](bench/results/README.md).\n\n%s\n%s\n",
		r.Started.UTC().Format("2006-01-02"), m.CPUModel, m.CPUs, m.Commit, m.LoadBefore, r.Table(), r.SizingTable())
	out := readmeMarkers.ReplaceAllLiteral(b, []byte("<!-- bench:table:begin -->\n"+body+"<!-- bench:table:end -->"))
	return os.WriteFile(path, out, 0o644)
}

// perTrace is a slope of memory over traces held; one that is not positive
// is noise, not a size.
func perTrace(v float64) string {
	if v <= 0 {
		return "not resolved"
	}
	return count(v)
}
