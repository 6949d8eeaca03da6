package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MemoryStep is the gateway's memory after one more batch of traces.
type MemoryStep struct {
	Traces    float64 `json:"traces_on_memory"`
	RSS       int64   `json:"rss_bytes"`
	HeapAlloc float64 `json:"live_heap_bytes"`
}

// MemoryPhase is one way tail sampling holds traces.
type MemoryPhase struct {
	Name         string       `json:"name"`
	DecisionWait string       `json:"decision_wait"`
	Steps        []MemoryStep `json:"steps"`
	// Slopes of RSS and of the live Go heap (after a forced GC) over traces
	// held, in bytes per trace.
	RSSPerTrace  float64 `json:"rss_bytes_per_trace"`
	HeapPerTrace float64 `json:"live_heap_bytes_per_trace"`
}

// Memory is what tail sampling on the gateway costs in memory per trace.
type Memory struct {
	SpansPerTrace int `json:"spans_per_trace"`
	// SpanBytes is the serialised (OTLP protobuf) size of one span.
	SpanBytes int           `json:"span_bytes"`
	IdleRSS   int64         `json:"idle_rss_bytes"`
	Phases    []MemoryPhase `json:"phases"`
}

// tailMemory measures the shipped gateway's memory against the traces tail
// sampling holds, in two phases: traces awaiting their decision (spans held;
// decision_wait longer than the run) and traces decided (the spans released
// but the trace kept, until num_traces pushes it out). num_traces is set
// above what the run sends, so nothing is evicted.
func (l *Lab) tailMemory(ctx context.Context) (Memory, error) {
	s, _ := ScenarioByName("gateway")
	// pprof's heap endpoint with gc=1 runs a garbage collection: the heap
	// figure is then the live heap, not live plus garbage.
	s = s.WithPprof()
	sh := l.opts.Shape
	res := Memory{SpansPerTrace: sh.SpansPerTrace}
	phases := []struct{ name, wait string }{
		{"awaiting decision (spans held)", "1h"},
		{"decided, kept until num_traces evicts them", "1s"},
	}
	for i, ph := range phases {
		wait, _ := time.ParseDuration(ph.wait)
		c, err := l.start(ctx, s, fmt.Sprintf("memory-%d", i+1), l.host(13+i), l.opts.CollectorCPU, map[string]string{
			"DECISION_WAIT": ph.wait,
			"NUM_TRACES":    fmt.Sprint(l.opts.MemSteps*l.opts.MemTraces*2 + 1000),
		})
		if err != nil {
			return res, err
		}
		phase, err := l.memoryPhase(ctx, c, ph.name, ph.wait, wait)
		c.stop()
		if err != nil {
			return res, err
		}
		res.Phases = append(res.Phases, phase)
		if i == 0 {
			res.IdleRSS = phase.Steps[0].RSS
		}
	}
	return res, nil
}

func (l *Lab) memoryPhase(ctx context.Context, c *collector, name, waitText string, wait time.Duration) (MemoryPhase, error) {
	ph := MemoryPhase{Name: name, DecisionWait: waitText}
	settle := 3 * time.Second
	if wait < time.Minute {
		settle += wait + 2*time.Second // decided and exported
	}
	spans := int64(l.opts.MemTraces * l.opts.Shape.SpansPerTrace)
	for step := 0; step <= l.opts.MemSteps; step++ {
		if step > 0 {
			g, err := l.generate(ctx, c.endpoint(), l.opts.FixedRate, 0, spans)
			if err != nil {
				return ph, err
			}
			if !g.summary.OK() {
				return ph, fmt.Errorf("memory step %d: %s", step, g.summary.Problem())
			}
			time.Sleep(settle)
		} else {
			time.Sleep(2 * time.Second)
		}
		if err := collectGarbage(ctx, c.host+":1777"); err != nil {
			return ph, err
		}
		u, err := c.usage()
		if err != nil {
			return ph, err
		}
		m, err := c.metrics()
		if err != nil {
			return ph, err
		}
		st := MemoryStep{
			Traces:    m.Sum("otelcol_processor_tail_sampling_sampling_traces_on_memory", nil),
			RSS:       u.RSS,
			HeapAlloc: m.Sum("otelcol_process_runtime_heap_alloc_bytes", nil),
		}
		ph.Steps = append(ph.Steps, st)
		l.logf("memory %s: %.0f traces held, RSS %.0f MiB, live heap %.0f MiB", name, st.Traces, float64(st.RSS)/mib, st.HeapAlloc/mib)
	}
	// The first step (idle, no trace yet) is left out of the fit: the first
	// load grows pools that any load grows.
	var x, rss, heap []float64
	for _, st := range ph.Steps[1:] {
		x = append(x, st.Traces)
		rss = append(rss, float64(st.RSS))
		heap = append(heap, st.HeapAlloc)
	}
	ph.RSSPerTrace, _ = linearFit(x, rss)
	ph.HeapPerTrace, _ = linearFit(x, heap)
	ph.RSSPerTrace, ph.HeapPerTrace = finite(ph.RSSPerTrace), finite(ph.HeapPerTrace)
	return ph, nil
}

// collectGarbage makes the collector run a GC, through the pprof extension.
func collectGarbage(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/debug/pprof/heap?gc=1: %s", addr, resp.Status)
	}
	return nil
}
