package bench

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

func TestJudgeNamesWhatWasNotSustained(t *testing.T) {
	ok, why := Window{Target: 1000, Rate: 990}.judge()
	assert.True(t, ok, why)

	ok, why = Window{Target: 1000, Rate: 900, Refused: 500, Statuses: []loadgen.StatusCount{{Status: "Unavailable", Refused: true, Requests: 1}},
		Drops: map[string]float64{"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early": 12}}.judge()
	assert.False(t, ok)
	assert.Contains(t, why, "500 spans refused, 0 failed (Unavailable ×1)")
	assert.Contains(t, why, "dropped inside: processor_tail_sampling_sampling_trace_dropped_too_early +12")
	assert.Contains(t, why, "accepted 900 spans/s of the 1,000 asked")

	ok, _ = Window{Target: 0, Rate: 5}.judge()
	assert.True(t, ok, "rate max has no target to miss")
}

func TestHeldBack(t *testing.T) {
	at := func(target, cores float64) Window {
		return Window{OK: true, Target: target, Rate: target, Cores: cores}
	}
	assert.Equal(t, "its core (97 % busy)", heldBack(Row{Max: at(1000, 0.97)}))
	assert.Equal(t, "a shared core: the collector got 50 % of it, other processes 45 % (a lower bound)",
		heldBack(Row{Max: Window{OK: true, Target: 1000, Rate: 1000, Cores: 0.5, Others: 0.45}}))
	assert.Equal(t, "the load CPU (95 % busy; a lower bound)", heldBack(Row{Max: Window{OK: true, Rate: 1000, Cores: 0.5, LoadCores: 0.95}}))
	assert.Equal(t, "not its CPU (50 % of its core): latency", heldBack(Row{Max: at(1000, 0.5)}))
	assert.InDelta(t, 1000, func() float64 {
		r := Results{Rows: []Row{{Name: "x", Measured: true, Max: at(1000, 0.5)}}}
		r.relate()
		return r.Rows[0].PerCore
	}(), 1e-9,
		"idle time on its core is not credited")
	tries := []Window{at(800, 0.8), {Target: 1500, Why: "stalled"}, at(1000, 0.9), {Target: 1200, Cores: 0.95, Why: "0 spans refused, 4,000 failed (DeadlineExceeded ×8)"}}
	assert.Equal(t, "its core (90 % busy); at 1,200 spans/s (95 % busy): 0 spans refused, 4,000 failed (DeadlineExceeded ×8)",
		heldBack(Row{Max: tries[2], Tries: tries}), "the lowest rate above the highest sustained one")
	tries = []Window{at(1000, 0.75), {Target: 1100, Cores: 0.85, Why: "accepted 1,000 spans/s of the 1,100 asked"}}
	assert.Equal(t, "its core (75 % busy); at 1,100 spans/s (85 % busy): accepted 1,000 spans/s of the 1,100 asked",
		heldBack(Row{Max: tries[0], Tries: tries}), "busy enough just above: queueing on a core near full")
	assert.Contains(t, heldBack(Row{Tries: []Window{{Why: "accepted 1 of 2"}}}), "no try sustained: accepted 1 of 2")
}

func TestSearchFromBelowRaisesThenBrackets(t *testing.T) {
	s := search{step: 0.9, upward: true}
	ok := func(rate float64) Window { return Window{OK: true, Target: rate, Rate: rate} }
	assert.InDelta(t, 50_000, s.next(40_000, ok(40_000)), 1e-9, "sustained: 25 % more")
	assert.InDelta(t, 62_500, s.next(50_000, ok(50_000)), 1e-9)
	assert.InDelta(t, 56_250, s.next(62_500, Window{Target: 62_500, Rate: 1_000}), 1e-9, "failed: halfway back to the best")
	assert.InDelta(t, 59_375, s.next(56_250, ok(56_250)), 1e-9, "sustained: halfway up to the failure")
	assert.InDelta(t, 60_937.5, s.next(59_375, ok(59_375)), 1e-9)
	assert.Zero(t, s.next(60_937.5, ok(60_937.5)), "within 5 % of the failure: done")
	assert.InDelta(t, 60_937.5, s.best.Rate, 1e-9)
}

func TestSearchFromTheCeilingOnlyStepsDown(t *testing.T) {
	s := search{step: 0.9}
	assert.InDelta(t, 90_000, s.next(100_000, Window{Target: 100_000, Rate: 99_000}), 1e-9)
	assert.InDelta(t, 95_000, s.next(90_000, Window{OK: true, Target: 90_000, Rate: 90_000}), 1e-9, "bracketed: halfway up")
	assert.InDelta(t, 90_000, s.best.Rate, 1e-9)

	s = search{step: 0.9}
	assert.Zero(t, s.next(95_000, Window{OK: true, Target: 95_000, Rate: 95_000}), "sustained just under the probe: done")
	assert.InDelta(t, 95_000, s.best.Rate, 1e-9)
}

func TestAnalyzeGivesEachSampleToItsFirstCost(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	fns := []*profile.Function{
		fn(1, "compress/flate.(*compressor).deflate"),
		fn(2, "google.golang.org/grpc.(*clientStream).SendMsg"),
		fn(3, "go.opentelemetry.io/collector/pdata/internal.(*Span).UnmarshalProto"),
		fn(4, "runtime.mallocgc"),
		fn(5, "runtime.gcBgMarkWorker"),
		fn(6, "github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor.(*tailSamplingSpanProcessor).processTraces"),
	}
	locs := make([]*profile.Location, len(fns))
	for i, f := range fns {
		locs[i] = &profile.Location{ID: uint64(i + 1), Line: []profile.Line{{Function: f}}}
	}
	sample := func(v int64, l ...int) *profile.Sample {
		s := &profile.Sample{Value: []int64{v, v * 10_000_000}}
		for _, i := range l {
			s.Location = append(s.Location, locs[i])
		}
		return s
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			sample(5, 0, 1), // gzip under gRPC: compression, not transport
			sample(2, 1),    // transport
			sample(2, 3, 2), // allocation while decoding: decoding
			sample(1, 4),    // GC
			sample(10, 5),   // tail sampling
		},
		Location: locs, Function: fns,
	}
	var buf bytes.Buffer
	require.NoError(t, p.Write(&buf))
	byCost, flat, cum, err := analyze(&buf, 3)
	require.NoError(t, err)
	got := map[string]float64{}
	for _, c := range byCost {
		got[c.Name] = c.Share
	}
	assert.InDelta(t, 0.50, got["tail_sampling"], 1e-9)
	assert.InDelta(t, 0.25, got["gzip compression (exporter to the backend)"], 1e-9)
	assert.InDelta(t, 0.10, got["gRPC and HTTP/2 transport"], 1e-9)
	assert.InDelta(t, 0.10, got["OTLP protobuf decoding (receiver)"], 1e-9)
	assert.InDelta(t, 0.05, got["GC: background marking and sweeping"], 1e-9)
	assert.Equal(t, "tail_sampling", byCost[0].Name, "largest first")
	require.Len(t, flat, 3)
	assert.Equal(t, fns[5].Name, flat[0].Name)
	assert.Equal(t, fns[1].Name, cum[1].Name, "grpc SendMsg: 7 of 20 samples cumulative")
	assert.InDelta(t, 0.35, cum[1].Share, 1e-9)
}

func sampleResults() *Results {
	w := func(rate, cpuPerM float64, rss int64) Window {
		return Window{Target: rate, Rate: rate, Spans: int64(rate * 30), Seconds: 30, CPUPerMillion: cpuPerM, RSS: rss, OK: true,
			GenOverCollector: 8, GenSpansPerCPU: 1e6, CollectorSpansPerCPU: 125_000}
	}
	r := &Results{
		Started: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Machine: Machine{CPUModel: "Test CPU", CPUs: 2, Commit: "abc123", LoadBefore: "0.10 0.20 0.30"},
		Rig:     Rig{Duration: 30, FixedRate: 20_000, SpansPerReq: 500, SpansPerTrace: 5, RequestBytes: 97_000, Pinned: true, LoadCPU: 1},
		Rows: []Row{
			{Name: "null", Title: "null pipeline", Measured: true, IdleRSS: 90 * mib, Fixed: w(20_000, 4, 110*mib), Max: w(200_000, 3, 150*mib), Probe: Window{Cores: 0.98}},
			// Other processes took half the collector's core: 50,000 spans/s
			// on half a core is 100,000 per core.
			{Name: "gateway", Title: "gateway", Tier: "gateway", Measured: true, IdleRSS: 100 * mib, Fixed: w(20_000, 8, 300*mib), Max: w(50_000, 7, 900*mib),
				Probe: Window{Cores: 0.5, Others: 0.5}},
			{Name: "gateway-sampled", Title: "gateway sampled", Skipped: "failed: the collector exited"},
		},
		Ratios: &Ratios{Rate: 20_000, Spans: 300_000, Reps: 3, Ratios: []Ratio{
			{Pair: mustPair("stickycheck"), Median: 1.01, Min: 0.99, Max: 1.02, Spread: 0.03 / 1.01, PerRep: []float64{1.01, 0.99, 1.02},
				Windows: []Window{{RSS: 300 * mib}, {RSS: 310 * mib}, {RSS: 320 * mib}}, BaselineWindows: []Window{{RSS: 290 * mib}}},
			{Pair: mustPair("audit"), Median: 1.04, Min: 1.03, Max: 1.05, Spread: 0.02 / 1.04, PerRep: []float64{1.04, 1.03, 1.05}},
			{Pair: mustPair("vs-seed"), Median: 1.6, Min: 1.55, Max: 1.62, Spread: 0.07 / 1.6, PerRep: []float64{1.6, 1.55, 1.62}},
			{Pair: mustPair("self"), Failed: "ratio-self-1, rep 2: 10 spans refused"},
		}},
		Profile: &Profile{Rate: 50_000, Seconds: 20, ByCost: []Cost{{Name: "tail_sampling", Share: 0.2}, {Name: "stickycheck", Share: 0.01}}},
		Memory: &Memory{SpansPerTrace: 5, SpanBytes: 194, IdleRSS: 90 * mib, Phases: []MemoryPhase{
			{Name: "awaiting decision", DecisionWait: "1h", HeapPerTrace: 4000, RSSPerTrace: 5000, Steps: []MemoryStep{{Traces: 0, RSS: 90 * mib}, {Traces: 20_000, RSS: 190 * mib}}},
			{Name: "decided", DecisionWait: "1s", HeapPerTrace: 300, RSSPerTrace: 700, Steps: []MemoryStep{{Traces: 0, RSS: 90 * mib}}},
		}},
	}
	r.Rows[0].Max.Cores = 1
	r.Rows[1].Max.Cores, r.Rows[1].Max.Others = 0.5, 0.5
	for i := range r.Rows {
		r.Rows[i].HeldBack = heldBack(r.Rows[i])
	}
	r.relate()
	return r
}

func TestRelateToTheNullPipelineAndSizing(t *testing.T) {
	r := sampleResults()
	gw := r.Row("gateway")
	require.NotNil(t, gw)
	assert.InDelta(t, 100_000, gw.PerCore, 1e-9, "50,000 spans/s on half a core")
	assert.InDelta(t, 0.5, gw.MaxVsNull, 1e-9)
	assert.InDelta(t, 2.0, gw.CPUVsNull, 1e-9)
	assert.InDelta(t, 300.0/110, gw.RSSVsNull, 1e-9)
	assert.InDelta(t, 0.1, gw.Sizing.CoresPer10k, 1e-9, "10,000 of the 100,000 one core sustains")
	assert.InDelta(t, 0.08, gw.Sizing.CoresPer10kAtFixed, 1e-9, "8 CPU-s per million spans")
	assert.InDelta(t, 100, gw.Sizing.MemoryPer10kMiB, 1e-9, "200 MiB more at 20,000 spans/s")
	assert.InDelta(t, 100, gw.Sizing.BaseMemoryMiB, 1e-9)
	assert.Nil(t, r.Row("gateway-sampled"), "not measured")
}

func TestMarkdownChartAndReadme(t *testing.T) {
	r := sampleResults()
	md := r.Markdown()
	for _, want := range []string{
		"| null pipeline | 200,000 | 1.00× | 200,000 (1.00) | 4.0 | 1.00× | 110 MiB | 1.00× | its core (100 % busy) |",
		"| gateway | 100,000 | 0.50× | 50,000 (0.50) | 8.0 | 2.00× | 300 MiB | 2.73× | a shared core: the collector got 50 % of it, other processes 50 % (a lower bound) |",
		"| gateway sampled | not measured | | | | | | | failed: the collector exited |",
		"| gateway | 0.100 | 0.080 | 100 MiB | 100 MiB |",
		"| stickycheck | stickycheck's check: with it over without it | 1.010 | 3.0 % | 0.990 – 1.020 | 0.000 | 1.010, 0.990, 1.020 | ≤ 1.03 ✓ |",
		"| audit | the split-trace audit: with it over stickycheck without it | 1.040 | 1.9 % | 1.030 – 1.050 | 0.000 | 1.040, 1.030, 1.050 | ≤ 1.03 ✗ |",
		"| vs-seed | the shipped gateway against the seed's, sampling 100 % | 1.600 | 4.4 % | 1.550 – 1.620 | 0.000 | 1.600, 1.550, 1.620 | ≥ 1.50 ✓ |",
		"| self | the shipped gateway against a second instance of itself | failed: ratio-self-1, rep 2: 10 spans refused |",
		"| stickycheck | gateway-stickycheck | 310 MiB | gateway-nostickycheck | 290 MiB |",
		"300,000 spans at 20,000 spans/s to each",
		"| awaiting decision (`decision_wait` 1h) | 5,000 | 4,000 |",
		"about 300 live bytes each; at the shipped `num_traces` of 100,000 about 29 MiB once the table is full",
		"Test CPU, 2 CPUs",
		"stickycheck with its audit takes 1.0 % of the gateway's CPU, a ratio of 1.010 over the same gateway without it.",
	} {
		assert.Contains(t, md, want)
	}

	svg := r.Chart()
	require.NoError(t, xml.Unmarshal([]byte(svg), new(struct{})), "well-formed SVG")
	assert.Equal(t, 2, strings.Count(svg, "<rect x="), "a bar per measured configuration")
	assert.Contains(t, svg, "100,000  (0.50× null)")
	assert.Contains(t, svg, "not measured")

	readme := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# x\n\n<!-- bench:table:begin -->\nold\n<!-- bench:table:end -->\n\nafter\n"), 0o644))
	require.NoError(t, r.UpdateReadme(readme))
	b, err := os.ReadFile(readme)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "old")
	assert.Contains(t, string(b), "Measured 2026-11-25 on Test CPU, 2 CPUs (commit `abc123`")
	assert.Contains(t, string(b), "| gateway | 100,000 | 0.50× |")
	assert.True(t, strings.HasSuffix(string(b), "<!-- bench:table:end -->\n\nafter\n"))

	require.NoError(t, os.WriteFile(readme, []byte("# no markers\n"), 0o644))
	assert.ErrorContains(t, r.UpdateReadme(readme), "has no <!-- bench:table:begin -->")
}

func TestNextTargetStepsDownToWhatWasAccepted(t *testing.T) {
	assert.InDelta(t, 90_000, nextTarget(100_000, 99_000, 0.9), 1e-9, "a near miss: one step")
	assert.InDelta(t, 76_000, nextTarget(100_000, 80_000, 0.9), 1e-9, "just under what was accepted")
	assert.InDelta(t, 60_000, nextTarget(100_000, 300, 0.9), 1e-9, "a stalled collector: at most 40 % down")
}

func mustPair(name string) Pair {
	p, ok := PairByName(name)
	if !ok {
		panic(name)
	}
	return p
}

func TestRatioMeetsItsTargetByKind(t *testing.T) {
	r := func(name string, median, spread float64) Ratio {
		return Ratio{Pair: mustPair(name), Median: median, Spread: spread}
	}
	assert.True(t, r("self", 1.0, 0.049).Met(), "a self ratio is judged by its spread")
	assert.False(t, r("self", 1.0, 0.051).Met())
	assert.True(t, r("vs-seed", 1.5, 0.2).Met(), "a speed ratio at least its target")
	assert.False(t, r("vs-seed", 1.49, 0).Met())
	assert.True(t, r("audit", 1.03, 0).Met(), "a cost ratio at most its target")
	assert.False(t, r("audit", 1.031, 0).Met())
	assert.True(t, r("gc", 0.9, 0).Met(), "no target: reported")
	failed := r("vs-seed", 2, 0)
	failed.Failed = "the collector exited"
	assert.False(t, failed.Met(), "a failed ratio meets nothing")
}

func TestPairValueIsCheaperAboveOneForSpeed(t *testing.T) {
	ours, seed := Window{CPUPerMillion: 10}, Window{CPUPerMillion: 15}
	assert.InDelta(t, 1.5, mustPair("vs-seed").value(ours, seed), 1e-12, "spans per CPU-second: 15 ÷ 10")
	assert.InDelta(t, 10.0/15, mustPair("audit").value(ours, seed), 1e-12, "CPU per span: 10 ÷ 15")
}

func TestSummariseGivesMedianAndSpread(t *testing.T) {
	r := Ratio{Pair: mustPair("vs-seed"), PerRep: []float64{1.0, 1.1, 0.9, 1.05, 0.95},
		// 3 CPU-s for 200,000 spans and 1 for 100,000, against 6 for 300,000:
		// 4 for 300,000 pooled, so 20 ÷ 13.33 = 1.5 spans per CPU-second over.
		Windows:         []Window{{CPU: 3, Spans: 200_000}, {CPU: 1, Spans: 100_000}},
		BaselineWindows: []Window{{CPU: 6, Spans: 300_000}}}
	r.summarise()
	assert.InDelta(t, 1.5, r.Pooled, 1e-9)
	assert.InDelta(t, 1.0, r.Median, 1e-12)
	assert.InDelta(t, 0.9, r.Min, 1e-12)
	assert.InDelta(t, 1.1, r.Max, 1e-12)
	assert.InDelta(t, 0.2, r.Spread, 1e-12)
}

func TestMemorySlopeThatIsNotPositiveIsNotResolved(t *testing.T) {
	r := sampleResults()
	r.Memory.Phases[1].HeapPerTrace = -148
	md := r.Markdown()
	assert.Contains(t, md, "| decided (`decision_wait` 1s) | 700 | not resolved |")
	assert.Contains(t, md, "too few bytes each for this measurement to resolve")
	assert.NotContains(t, md, "-148")
}

func TestRatioRunsResolveTheirScenarios(t *testing.T) {
	o := DefaultOptions()
	o.Pairs = []string{"gc"}
	runs := o.ratioRuns()
	require.Len(t, runs, 1)
	require.NoError(t, runs[0].err)
	assert.Equal(t, "gateway", runs[0].scenarios[0].Name)
	assert.Equal(t, "gateway-default-gc", runs[0].scenarios[1].Name)

	o.Compare, o.CompareOverlays, o.CompareEnv = "gateway", []string{"/tmp/mine.yaml"}, map[string]string{"GOGC": "200"}
	runs = o.ratioRuns()
	require.Len(t, runs, 1, "a comparison is the one ratio taken")
	changed, base := runs[0].scenarios[0], runs[0].scenarios[1]
	assert.Equal(t, "gateway-changed", changed.Name)
	assert.Equal(t, []string{"/tmp/mine.yaml"}, changed.Overlays)
	assert.Equal(t, "200", changed.Env["GOGC"])
	shipped, _ := ScenarioByName("gateway")
	assert.Equal(t, shipped, base, "the baseline is the configuration as is")
	assert.Equal(t, KindSpeed, runs[0].Kind)
}

func TestUserCPURatioLeavesTheKernelOut(t *testing.T) {
	// Both repetitions: ours 10 user + 5 system CPU-s, the seed's 15 + 0
	// for the same spans: 1.0 on all the CPU, 1.5 on user CPU alone.
	ours := Window{CPU: 15, UserCPU: 10, SysCPU: 5, Spans: 1_000_000, CPUPerMillion: 15, MinorFaults: 90_000}
	seed := Window{CPU: 15, UserCPU: 15, Spans: 1_000_000, CPUPerMillion: 15, MinorFaults: 2_000}
	r := Ratio{Pair: mustPair("vs-seed"), Windows: []Window{ours, ours}, BaselineWindows: []Window{seed, seed}, PerRep: []float64{1, 1}}
	r.summarise()
	u := r.userCPU()
	assert.InDelta(t, 1.0, r.Median, 1e-12)
	assert.InDelta(t, 1.5, u.Median, 1e-12)
	assert.InDelta(t, 1.5, u.Pooled, 1e-12)
	assert.Equal(t, []float64{1.5, 1.5}, u.PerRep)

	md := (&Ratios{Spans: 1_000_000, Reps: 2, Ratios: []Ratio{r}}).Markdown()
	assert.Contains(t, md, "| vs-seed | 1.500 | 0.0 % | 1.500, 1.500 | 90,000 | 2,000 |")
	assert.Contains(t, md, "warms both with 250,000 spans", "a run that did not record its warm-up had a quarter window")
}
