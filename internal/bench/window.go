package bench

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/loadgen"
)

// Window is one measured run of the generator against a collector.
type Window struct {
	// Target rate in spans/s (0: max); Rate what the collector accepted.
	Target  float64 `json:"target"`
	Seconds float64 `json:"seconds"`
	Spans   int64   `json:"spans"`
	Rate    float64 `json:"rate"`
	// CPU seconds the collector used in the window; Cores = CPU / Seconds.
	CPU           float64 `json:"cpu_seconds"`
	Cores         float64 `json:"cores"`
	CPUPerMillion float64 `json:"cpu_seconds_per_million_spans"`
	// The CPU's parts, user and system; the minor page faults and the GC
	// cycles the window held: where windows of one configuration differ.
	UserCPU     float64 `json:"user_cpu_seconds"`
	SysCPU      float64 `json:"sys_cpu_seconds"`
	MinorFaults int64   `json:"minor_faults"`
	GCs         int     `json:"gc_cycles"`
	// RSS at the end of the window and the process's peak so far.
	RSS int64 `json:"rss_bytes"`
	HWM int64 `json:"rss_peak_bytes"`
	// CPU0Busy is how busy the collector's CPU was, all processes together,
	// and Others the share of it that other processes took (the collector
	// had the CPU to itself when Others is near 0); Steal what the hypervisor
	// took.
	CPUBusy float64 `json:"collector_cpu_busy"`
	Others  float64 `json:"collector_cpu_others"`
	Steal   float64 `json:"collector_cpu_steal"`
	// The load CPU: generator and null sinks.
	GenCPU    float64 `json:"generator_cpu_seconds"`
	SinkCPU   float64 `json:"sinks_cpu_seconds"`
	LoadCores float64 `json:"load_cores"`
	// Spans per CPU-second of the generator and of the collector, and the
	// first over the second: how much headroom the instrument had.
	GenSpansPerCPU       float64 `json:"generator_spans_per_cpu_second"`
	CollectorSpansPerCPU float64 `json:"collector_spans_per_cpu_second"`
	GenOverCollector     float64 `json:"generator_over_collector"`
	// What went wrong: refused or failed requests, data the collector dropped.
	Refused  int64                 `json:"refused_spans"`
	Failed   int64                 `json:"failed_spans"`
	Statuses []loadgen.StatusCount `json:"statuses,omitempty"`
	Drops    map[string]float64    `json:"drops,omitempty"`
	OK       bool                  `json:"ok"`
	Why      string                `json:"why,omitempty"`
}

// dropMetrics are the collector's own counters of data it did not deliver.
var dropMetrics = []string{
	"otelcol_receiver_refused_spans",
	"otelcol_receiver_failed_spans",
	"otelcol_exporter_send_failed_spans",
	"otelcol_exporter_enqueue_failed_spans",
	"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
}

// window runs the generator for d at rate against c and measures c's CPU
// and memory and the load CPU over it. sustain is the share of the target
// the collector must accept for the window to count as sustained.
func (l *Lab) window(ctx context.Context, c *collector, rate float64, d time.Duration) (Window, error) {
	return l.measure(ctx, c, rate, d, 0)
}

// spansWindow sends exactly spans spans at rate to c and counts all the CPU
// c spends on them: from the first request until c is idle again, after
// the configuration's hold (tail sampling's decision_wait) and the export
// that follows it. Every window of a ratio then holds the same work, whatever
// the rate achieved or the pauses between windows.
func (l *Lab) spansWindow(ctx context.Context, c *collector, rate float64, spans int64) (Window, error) {
	return l.measure(ctx, c, rate, 0, spans)
}

// measure is window (count 0: for d) and spansWindow (count > 0).
func (l *Lab) measure(ctx context.Context, c *collector, rate float64, d time.Duration, count int64) (Window, error) {
	before, err := c.usage()
	if err != nil {
		return Window{}, err
	}
	// An overloaded collector may not answer its self-telemetry in time:
	// the window is then not sustained, and says why.
	m0, scrapeErr := c.metrics()
	sink0 := l.sinkCPU()
	gc0 := gcCycles(c.proc.Member().LogFile)
	cpu0, _ := readCPU(l.opts.CollectorCPU)
	g, err := l.generate(ctx, c.endpoint(), rate, d, count)
	if err != nil {
		return Window{}, err
	}
	if count > 0 {
		if err := l.settle(ctx, c); err != nil {
			return Window{}, err
		}
	}
	cpu1, _ := readCPU(l.opts.CollectorCPU)
	after, err := c.usage()
	if err != nil {
		return Window{}, fmt.Errorf("%s: %w (did it exit? see its log)", c.proc.Member().Name, err)
	}
	m1, err := c.metrics()
	if scrapeErr == nil {
		scrapeErr = err
	}
	s := g.summary
	w := Window{
		Target: rate, Seconds: s.Seconds, Spans: s.Spans.Accepted, Rate: s.Rate,
		CPU: after.CPU - before.CPU, RSS: after.RSS, HWM: after.HWM,
		UserCPU: after.User - before.User, SysCPU: after.Sys - before.Sys, MinorFaults: after.MinorFaults - before.MinorFaults,
		GCs:    gcCycles(c.proc.Member().LogFile) - gc0,
		GenCPU: g.cpu, SinkCPU: l.sinkCPU() - sink0,
		Refused: s.Spans.Refused, Failed: s.Spans.Failed, Statuses: s.Statuses,
	}
	w.Cores = w.CPU / w.Seconds
	if l.opts.Pin {
		if wall := (cpu1.Busy + cpu1.Idle + cpu1.Steal) - (cpu0.Busy + cpu0.Idle + cpu0.Steal); wall > 0 {
			w.CPUBusy = (cpu1.Busy - cpu0.Busy) / wall
			w.Steal = (cpu1.Steal - cpu0.Steal) / wall
			w.Others = max(0, w.CPUBusy-w.CPU/wall)
		}
	}
	w.LoadCores = (w.GenCPU + w.SinkCPU) / w.Seconds
	w.CPUPerMillion = ratio(w.CPU*1e6, float64(w.Spans))
	w.GenSpansPerCPU = ratio(float64(s.Spans.Sent), w.GenCPU)
	w.CollectorSpansPerCPU = ratio(float64(w.Spans), w.CPU)
	w.GenOverCollector = ratio(w.GenSpansPerCPU, w.CollectorSpansPerCPU)
	if scrapeErr == nil {
		for _, name := range dropMetrics {
			if delta := m1.Sum(name, nil) - m0.Sum(name, nil); delta > 0 {
				if w.Drops == nil {
					w.Drops = map[string]float64{}
				}
				w.Drops[name] = delta
			}
		}
	}
	if count > 0 {
		// A fixed-span window holds the same work at whatever rate the
		// collector took it: what it dropped inside spoils it, and requests
		// refused or timed out beyond a few (their spans are not counted:
		// a handful moves the CPU per span by less than they weigh).
		lenient := w
		lenient.Target = 0
		if float64(w.Refused+w.Failed) <= maxLostShare*float64(count) {
			lenient.Refused, lenient.Failed = 0, 0
		}
		w.OK, w.Why = lenient.judge()
	} else {
		w.OK, w.Why = w.judge()
	}
	if scrapeErr != nil {
		w.OK = false
		w.Why = strings.TrimPrefix(w.Why+"; ", "; ") + "its self-telemetry did not answer (stalled?): " + scrapeErr.Error()
	}
	return w, nil
}

// maxLostShare is the share of a fixed-span window's spans that may be
// refused or fail (deadline exceeded) without spoiling it.
const maxLostShare = 0.005

// sustainShare is how much of the target a sustained window accepts.
const sustainShare = 0.97

// judge says whether the collector sustained the window's target: no
// request refused or failed, nothing dropped inside, the rate held.
func (w Window) judge() (bool, string) {
	var why []string
	if w.Refused > 0 || w.Failed > 0 {
		var st []string
		for _, s := range w.Statuses {
			st = append(st, fmt.Sprintf("%s ×%d", s.Status, s.Requests))
		}
		why = append(why, fmt.Sprintf("%s spans refused, %s failed (%s)", loadgen.Count(w.Refused), loadgen.Count(w.Failed), strings.Join(st, ", ")))
	}
	if len(w.Drops) > 0 {
		names := make([]string, 0, len(w.Drops))
		for n := range w.Drops {
			names = append(names, fmt.Sprintf("%s +%.0f", strings.TrimPrefix(n, "otelcol_"), w.Drops[n]))
		}
		sort.Strings(names)
		why = append(why, "dropped inside: "+strings.Join(names, ", "))
	}
	if w.Target > 0 && w.Rate < sustainShare*w.Target {
		why = append(why, fmt.Sprintf("accepted %s spans/s of the %s asked", loadgen.Count(int64(math.Round(w.Rate))), loadgen.Count(int64(math.Round(w.Target)))))
	}
	return len(why) == 0, strings.Join(why, "; ")
}

// warm runs the generator for the warm-up (plus the configuration's hold
// time) so that the window that follows sees a steady state.
func (l *Lab) warm(ctx context.Context, c *collector, rate float64) error {
	d := l.opts.Warmup + c.scenario.Hold
	if d <= 0 {
		return nil
	}
	_, err := l.generate(ctx, c.endpoint(), rate, d, 0)
	return err
}

// idleShare is the share of a core below which a collector counts as idle:
// its timers (tail sampling's tick, memory_limiter, self-telemetry) take
// less than this.
const idleShare = 0.03

// settle waits out c's hold and then until c is idle: two consecutive
// seconds of CPU below idleShare (/proc counts in 10 ms ticks), at most a
// minute.
func (l *Lab) settle(ctx context.Context, c *collector) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(c.scenario.Hold):
	}
	const tick = time.Second
	deadline := time.Now().Add(time.Minute)
	prev, err := c.usage()
	if err != nil {
		return err
	}
	quiet := 0
	for quiet < 2 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still busy a minute after its hold", c.proc.Member().Name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
		u, err := c.usage()
		if err != nil {
			return err
		}
		if u.CPU-prev.CPU < idleShare*tick.Seconds() {
			quiet++
		} else {
			quiet = 0
		}
		prev = u
	}
	return nil
}
