package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return sample{}, fmt.Errorf("GET %s: %w", m.url, err)
	}
	s := sample{at: m.now()}
	s.spans = sumAll(fams, spanCounters...)
	s.points = sumAll(fams, pointCounters...)
	s.records = sumAll(fams, recordCounters...)
	s.newTraces, s.hasTraces = sum(fams, metricNewTraces)
	s.cpu, _ = sum(fams, metricCPU)
	s.rss, _ = sum(fams, metricRSS)
	s.heap, _ = sum(fams, metricHeap)
	s.onMemory, _ = sum(fams, metricTracesOnMemory)
	s.ringMembers, _ = sum(fams, metricRingMembers)
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

func sumAll(fams map[string]*dto.MetricFamily, names ...string) float64 {
	var total float64
	for _, n := range names {
		v, _ := sum(fams, n)
		total += v
	}
	return total
}

// sum adds every series of the family name (or name_total).
func sum(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	fam, ok := fams[name]
	if !ok {
		if fam, ok = fams[name+"_total"]; !ok {
			return 0, false
		}
	}
	var total float64
	for _, mt := range fam.GetMetric() {
		switch {
		case mt.GetCounter() != nil:
			total += mt.GetCounter().GetValue()
		case mt.GetGauge() != nil:
			total += mt.GetGauge().GetValue()
		case mt.GetUntyped() != nil:
			total += mt.GetUntyped().GetValue()
		}
	}
	return total, true
}

// selfTelemetryURL finds the collector's pull Prometheus reader in
// service::telemetry of the effective configuration.
func selfTelemetryURL(telemetry map[string]any) (string, error) {
	metrics, _ := telemetry["metrics"].(map[string]any)
	if level, _ := metrics["level"].(string); level == "none" {
		return "", errors.New("service::telemetry::metrics::level is none: the collector counts nothing to measure")
	}
	readers, _ := metrics["readers"].([]any)
	for _, r := range readers {
		rm, _ := r.(map[string]any)
		pull, _ := rm["pull"].(map[string]any)
		exp, _ := pull["exporter"].(map[string]any)
		prom, ok := exp["prometheus"].(map[string]any)
		if !ok {
			continue
		}
		host, _ := prom["host"].(string)
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::", "[::]":
			host = "::1"
		}
		port, ok := toInt(prom["port"])
		if !ok || port <= 0 {
			continue
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/metrics", nil
	}
	return "", errors.New("no pull Prometheus reader in service::telemetry::metrics::readers: add one (the shipped configs serve port 8888) to measure rates")
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}
