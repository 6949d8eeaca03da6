package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
)

// The collector's own metrics the meter reads, as the Prometheus reader
// names them (a "_total" suffix is also accepted).
var (
	spanCounters   = []string{"otelcol_receiver_accepted_spans", "otelcol_receiver_refused_spans", "otelcol_receiver_failed_spans"}
	pointCounters  = []string{"otelcol_receiver_accepted_metric_points", "otelcol_receiver_refused_metric_points", "otelcol_receiver_failed_metric_points"}
	recordCounters = []string{"otelcol_receiver_accepted_log_records", "otelcol_receiver_refused_log_records", "otelcol_receiver_failed_log_records"}
)

const (
	metricCPU            = "otelcol_process_cpu_seconds"
	metricRSS            = "otelcol_process_memory_rss"
	metricHeap           = "otelcol_process_runtime_heap_alloc_bytes"
	metricNewTraces      = "otelcol_processor_tail_sampling_new_trace_id_received"
	metricTracesOnMemory = "otelcol_processor_tail_sampling_sampling_traces_on_memory"
	metricRingMembers    = "otelcol_processor_stickycheck_ring_members"
)

// sample is one scrape of the collector's own metrics.
type sample struct {
	at                       time.Time
	spans, points, records   float64
	newTraces                float64
	hasTraces                bool
	cpu, rss, heap, onMemory float64
	ringMembers              float64
}

// meter reads the collector's self-telemetry endpoint every interval and
// keeps the samples of the last window.
type meter struct {
	url      string
	window   time.Duration
	interval time.Duration
	client   *http.Client
	now      func() time.Time

	mu       sync.Mutex
	samples  []sample
	idleRSS  float64
	idleHeap float64
	lastErr  error
}

// scrapeInterval gives about a dozen samples per window, between 1 s and 15 s.
func scrapeInterval(window time.Duration) time.Duration {
	return min(max(window/12, time.Second), 15*time.Second)
}

func newMeter(url string, window time.Duration) *meter {
	return &meter{
		url: url, window: window, interval: scrapeInterval(window),
		client: &http.Client{Timeout: 5 * time.Second}, now: time.Now,
	}
}

// run scrapes until ctx ends, calling after each successful scrape.
func (m *meter) run(ctx context.Context, after func()) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		if err := m.scrape(ctx); err == nil && after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *meter) scrape(ctx context.Context) error {
	s, err := m.read(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = err
	if err != nil {
		return err
	}
	m.add(s)
	return nil
}

func (m *meter) read(ctx context.Context) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, http.NoBody)
	if err != nil {
		return sample{}, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("GET %s: %s", m.url, resp.Status)
	}
	fams, err := selfmetrics.Parse(resp.Body)
	if err != nil {
		return sample{}, fmt.Errorf("GET %s: %w", m.url, err)
	}
	s := sample{at: m.now()}
	s.spans = sumAll(fams, spanCounters...)
	s.points = sumAll(fams, pointCounters...)
	s.records = sumAll(fams, recordCounters...)
	s.newTraces, s.hasTraces = selfmetrics.Sum(fams, metricNewTraces, nil)
	s.cpu, _ = selfmetrics.Sum(fams, metricCPU, nil)
	s.rss, _ = selfmetrics.Sum(fams, metricRSS, nil)
	s.heap, _ = selfmetrics.Sum(fams, metricHeap, nil)
	s.onMemory, _ = selfmetrics.Sum(fams, metricTracesOnMemory, nil)
	s.ringMembers, _ = selfmetrics.Sum(fams, metricRingMembers, nil)
	return s, nil
}

// add appends s and drops the samples older than the window before it.
func (m *meter) add(s sample) {
	if len(m.samples) == 0 || s.rss < m.idleRSS {
		m.idleRSS = s.rss
	}
	if len(m.samples) == 0 || s.heap < m.idleHeap {
		m.idleHeap = s.heap
	}
	m.samples = append(m.samples, s)
	oldest := s.at.Add(-m.window - m.interval/2)
	drop := 0
	for drop < len(m.samples)-1 && m.samples[drop].at.Before(oldest) {
		drop++
	}
	m.samples = append(m.samples[:0], m.samples[drop:]...)
}

// measurement turns the samples of the window into rates.
func (m *meter) measurement() sizing.Measurement {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := sizing.Measurement{Source: fmt.Sprintf("%s every %s", m.url, m.interval.Round(100*time.Millisecond)), Samples: len(m.samples)}
	if len(m.samples) < 2 {
		out.Problem = fmt.Sprintf("%d of the 2 samples needed from %s", len(m.samples), m.url)
		if m.lastErr != nil {
			out.Problem += ", last error: " + m.lastErr.Error()
		}
		return out
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	dt := last.at.Sub(first.at).Seconds()
	rate := func(a, b float64) float64 { return max(0, b-a) / dt }
	out.Over = last.at.Sub(first.at)
	out.SpansPerSecond = rate(first.spans, last.spans)
	out.MetricPointsPerSecond = rate(first.points, last.points)
	out.LogRecordsPerSecond = rate(first.records, last.records)
	if last.hasTraces {
		out.TracesPerSecond = rate(first.newTraces, last.newTraces)
	}
	out.CPUCores = rate(first.cpu, last.cpu)
	out.RSSBytes, out.IdleRSSBytes = last.rss, m.idleRSS
	out.HeapBytes, out.IdleHeapBytes = last.heap, m.idleHeap
	out.TracesInMemory = last.onMemory
	out.Replicas = int(last.ringMembers)
	return out
}

func sumAll(fams selfmetrics.Families, names ...string) float64 {
	var total float64
	for _, n := range names {
		v, _ := selfmetrics.Sum(fams, n, nil)
		total += v
	}
	return total
}
