package sizing // import "github.com/otelcol-tiered/otelcol-tiered/internal/sizing"

import (
	"fmt"
	"math"
	"time"
)

// Measurement is what a collector measured about itself over a window.
type Measurement struct {
	// Over is the time the rates cover: the window, or less right after start.
	Over    time.Duration
	Samples int
	// Items received per second (accepted and refused by the receivers).
	SpansPerSecond        float64
	MetricPointsPerSecond float64
	LogRecordsPerSecond   float64
	// TracesPerSecond is the rate of new traces reaching tail_sampling; 0
	// when not measured.
	TracesPerSecond float64
	// CPUCores is CPU seconds per second of the process over the window.
	CPUCores float64
	// RSSBytes is the latest resident set size, IdleRSSBytes the lowest seen
	// since start.
	RSSBytes     float64
	IdleRSSBytes float64
	// HeapBytes is the latest heap in use, IdleHeapBytes the lowest seen.
	HeapBytes     float64
	IdleHeapBytes float64
	// TracesInMemory is the number of traces tail_sampling keeps an entry
	// for (awaiting a decision, or decided and not yet evicted).
	TracesInMemory float64
	// Replicas is the number of gateway replicas (stickycheck's ring
	// members); 0 when unknown.
	Replicas int
	// Source says where the figures were read, Problem why there are none.
	Source  string
	Problem string
}

// ItemsPerSecond is spans, metric points and log records per second.
func (m Measurement) ItemsPerSecond() float64 {
	return m.SpansPerSecond + m.MetricPointsPerSecond + m.LogRecordsPerSecond
}

// TailSamplingConfig is what the estimate needs of tail_sampling's configuration.
type TailSamplingConfig struct {
	DecisionWait time.Duration
	NumTraces    int64
}

// Input is everything a report is computed from.
type Input struct {
	Role        string
	Table       Table
	Cost        Cost
	LimitFactor float64
	Measurement Measurement
	// TailSampling is set when the collector runs tail_sampling.
	TailSampling *TailSamplingConfig
}

// Report is the sizing block: every number with its basis.
type Report struct {
	Role         string                `json:"role"`
	Measured     Measured              `json:"measured"`
	Table        TableMatch            `json:"table"`
	Cost         CostReport            `json:"cost"`
	Hint         Resources             `json:"hint"`
	Replicas     *Replicas             `json:"replicas,omitempty"`
	TailSampling *TailSamplingEstimate `json:"tail_sampling,omitempty"`
}

// Measured are the measured figures.
type Measured struct {
	Over                  string  `json:"over"`
	Samples               int     `json:"samples"`
	SpansPerSecond        float64 `json:"spans_per_second"`
	MetricPointsPerSecond float64 `json:"metric_points_per_second"`
	LogRecordsPerSecond   float64 `json:"log_records_per_second"`
	ItemsPerSecond        float64 `json:"items_per_second"`
	TracesPerSecond       float64 `json:"traces_per_second,omitempty"`
	CPUCores              float64 `json:"cpu_cores"`
	RSSBytes              int64   `json:"rss_bytes"`
	IdleRSSBytes          int64   `json:"idle_rss_bytes"`
	Basis                 string  `json:"basis"`
}

// TableMatch is the row of the seed's table that matches.
type TableMatch struct {
	Row                Row     `json:"row"`
	TierItemsPerSecond float64 `json:"tier_items_per_second"`
	Exceeded           bool    `json:"exceeded,omitempty"`
	Basis              string  `json:"basis"`
}

// CostReport is the cost of 10,000 items/s on this replica.
type CostReport struct {
	CoresPer10k       float64 `json:"cores_per_10k_items_per_second"`
	MemoryBytesPer10k int64   `json:"memory_bytes_per_10k_items_per_second"`
	Measured          bool    `json:"measured"`
	Basis             string  `json:"basis"`
}

// Quantities are a CPU and a memory amount in Kubernetes notation.
type Quantities struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// Resources are requests and limits.
type Resources struct {
	Requests Quantities `json:"requests"`
	Limits   Quantities `json:"limits"`
	Basis    string     `json:"basis"`
}

// Replicas is the gateway tier's replica count and HPA bounds.
type Replicas struct {
	Replicas int    `json:"replicas"`
	HPAMin   int    `json:"hpa_min"`
	HPAMax   int    `json:"hpa_max"`
	Basis    string `json:"basis"`
}

// TailSamplingEstimate is the memory tail_sampling needs at the measured rate.
type TailSamplingEstimate struct {
	TracesPerSecond      float64 `json:"traces_per_second"`
	SpansPerTrace        float64 `json:"spans_per_trace"`
	DecisionWait         string  `json:"decision_wait"`
	NumTraces            int64   `json:"num_traces"`
	TracesOnMemory       int64   `json:"traces_on_memory"`
	BytesPerSpan         float64 `json:"bytes_per_span"`
	BytesPerSpanMeasured bool    `json:"bytes_per_span_measured"`
	EstimateBytes        int64   `json:"estimate_bytes"`
	Basis                string  `json:"basis"`
}

const mi = 1 << 20

// Compute makes the report.
func Compute(in Input) Report {
	m := in.Measurement
	factor := in.LimitFactor
	if factor <= 0 {
		factor = DefaultLimitFactor
	}
	items := m.ItemsPerSecond()
	measured := m.Samples >= 2
	r := Report{Role: in.Role}

	r.Measured = Measured{
		Over: m.Over.Round(time.Second).String(), Samples: m.Samples,
		SpansPerSecond: round(m.SpansPerSecond, 1), MetricPointsPerSecond: round(m.MetricPointsPerSecond, 1),
		LogRecordsPerSecond: round(m.LogRecordsPerSecond, 1), ItemsPerSecond: round(items, 1),
		TracesPerSecond: round(m.TracesPerSecond, 1), CPUCores: round(m.CPUCores, 4),
		RSSBytes: int64(m.RSSBytes), IdleRSSBytes: int64(m.IdleRSSBytes),
	}
	if measured {
		r.Measured.Basis = fmt.Sprintf("rates over the last %s (%d samples) of the collector's own counters, read from %s: "+
			"items are otelcol_receiver_accepted_*, _refused_* and _failed_* (spans, metric points, log records) summed over receivers; "+
			"traces are otelcol_processor_tail_sampling_new_trace_id_received; cpu_cores is the rate of otelcol_process_cpu_seconds; "+
			"rss_bytes is otelcol_process_memory_rss now, idle_rss_bytes the lowest since start", r.Measured.Over, m.Samples, m.Source)
	} else {
		r.Measured.Basis = "not measured yet: " + m.Problem
	}

	// The tail-sampling estimate first: the memory hint includes it.
	var tsBytes float64
	if in.TailSampling != nil {
		r.TailSampling, tsBytes = tailSampling(*in.TailSampling, m)
	}

	// Requests that carry the measured use at the seed's HPA targets.
	cpuNeed := m.CPUCores
	memNeed := math.Max(m.RSSBytes, m.IdleRSSBytes+tsBytes)
	row, tier, exceeded := in.Table.match(in.Role, items, m.Replicas, cpuNeed, memNeed)
	r.Table = TableMatch{Row: row, TierItemsPerSecond: round(tier, 1), Exceeded: exceeded, Basis: tableBasis(in.Role, row, tier, items, m.Replicas, exceeded)}

	if measured {
		cpuReq := roundUp(cpuNeed/CPUTargetUtilization*1000, 10)  // millicores
		memReq := roundUp(memNeed/MemoryTargetUtilization/mi, 16) // MiB
		cpuReq, memReq = math.Max(cpuReq, 10), math.Max(memReq, 32)
		r.Hint = Resources{
			Requests: Quantities{CPU: fmt.Sprintf("%.0fm", cpuReq), Memory: fmt.Sprintf("%.0fMi", memReq)},
			Limits:   Quantities{CPU: fmt.Sprintf("%.0fm", cpuReq*factor), Memory: fmt.Sprintf("%.0fMi", memReq*factor)},
			Basis: fmt.Sprintf("requests put the measured use at the seed's HPA targets: cpu %.4f cores / %.0f %%, memory %.0f MiB / %.0f %% "+
				"(the larger of the RSS now and idle RSS plus the tail-sampling estimate), rounded up to 10m and 16Mi; limits are %g × requests (the seed: limits 2-4× requests)",
				cpuNeed, CPUTargetUtilization*100, memNeed/mi, MemoryTargetUtilization*100, factor),
		}
	} else {
		r.Hint = Resources{
			Requests: Quantities{CPU: row.CPURequest, Memory: row.MemoryRequest},
			Limits:   Quantities{CPU: row.CPULimit, Memory: row.MemoryLimit},
			Basis:    fmt.Sprintf("nothing measured yet (%s): the table row %q", m.Problem, row.Name),
		}
	}

	if measured && items >= MinItemsPerSecondForCost {
		per10k := items / 10_000
		r.Cost = CostReport{
			CoresPer10k:       round(m.CPUCores/per10k, 4),
			MemoryBytesPer10k: int64(math.Max(0, m.RSSBytes-m.IdleRSSBytes) / per10k),
			Measured:          true,
			Basis: fmt.Sprintf("measured on this replica at %.0f items/s: cpu_cores ÷ (items/s ÷ 10,000), whole-process CPU including idle work; "+
				"memory is RSS above the lowest RSS since start ÷ (items/s ÷ 10,000). Reference figures (internal/sizing/defaults.go): %.4f cores and %d MiB",
				items, in.Cost.CoresPer10k, int64(in.Cost.MemoryBytesPer10k/mi)),
		}
	} else {
		r.Cost = CostReport{
			CoresPer10k: in.Cost.CoresPer10k, MemoryBytesPer10k: int64(in.Cost.MemoryBytesPer10k),
			Basis: fmt.Sprintf("default figures of internal/sizing/defaults.go: %.1f items/s is too little traffic to measure a cost (at least %d needed)",
				items, MinItemsPerSecondForCost),
		}
	}

	if in.Role == "gateway" {
		hpaMin := max(row.Replicas, MinGatewayReplicas)
		r.Replicas = &Replicas{
			Replicas: hpaMin, HPAMin: hpaMin, HPAMax: max(MaxGatewayReplicas, 2*hpaMin),
			Basis: fmt.Sprintf("the table row's %d replicas, at least the seed's %d (\"3 replicas minimum\"); HPA max is the larger of the seed's example %d and twice the minimum",
				row.Replicas, MinGatewayReplicas, MaxGatewayReplicas),
		}
	}
	return r
}

func tailSampling(cfg TailSamplingConfig, m Measurement) (*TailSamplingEstimate, float64) {
	e := &TailSamplingEstimate{
		TracesPerSecond: round(m.TracesPerSecond, 1), DecisionWait: cfg.DecisionWait.String(), NumTraces: cfg.NumTraces,
		TracesOnMemory: int64(m.TracesInMemory), BytesPerSpan: DefaultTailSamplingBytesPerSpan,
	}
	if m.TracesPerSecond <= 0 {
		e.Basis = "no new traces measured in tail_sampling over the window: nothing to estimate"
		return e, 0
	}
	spansPerTrace := m.SpansPerSecond / m.TracesPerSecond
	e.SpansPerTrace = round(spansPerTrace, 2)
	// Little's law: the spans waiting for a decision. traces_on_memory counts
	// more: decided traces keep an entry (without their spans) until
	// num_traces evicts them.
	held := m.TracesPerSecond * cfg.DecisionWait.Seconds() * spansPerTrace
	bytesBasis := fmt.Sprintf("the default %d bytes (internal/sizing/defaults.go): the heap did not grow above its lowest", DefaultTailSamplingBytesPerSpan)
	if held > 0 && m.HeapBytes > m.IdleHeapBytes {
		e.BytesPerSpan = round((m.HeapBytes-m.IdleHeapBytes)/held, 0)
		e.BytesPerSpanMeasured = true
		bytesBasis = fmt.Sprintf("heap in use above the lowest seen (%.1f MiB) ÷ spans awaiting a decision (%.0f = traces/s × decision_wait × spans per trace); "+
			"an upper bound: the heap also holds decided traces' entries (%.0f traces on memory, up to num_traces) and garbage not yet collected. "+
			"At the measured rate the estimate is that heap growth; the per-span figure scales it to another rate or decision_wait",
			(m.HeapBytes-m.IdleHeapBytes)/mi, held, m.TracesInMemory)
	}
	est := held * e.BytesPerSpan
	e.EstimateBytes = int64(est)
	e.Basis = fmt.Sprintf("traces/s × decision_wait × spans per trace × bytes per span = %.1f × %s × %.2f × %.0f; "+
		"spans per trace is spans/s ÷ new traces/s; bytes per span: %s", m.TracesPerSecond, cfg.DecisionWait, spansPerTrace, e.BytesPerSpan, bytesBasis)
	return e, est
}

// match returns the first row that carries the tier's throughput (when the
// row is bounded) with requests that cover the measured use, or the last
// row, exceeded.
func (t Table) match(role string, items float64, replicas int, cores, mem float64) (Row, float64, bool) {
	tier := items
	if role == "gateway" && replicas > 0 {
		tier = items * float64(replicas)
	}
	for _, r := range t {
		if r.MaxItemsPerSecond > 0 && tier > r.MaxItemsPerSecond {
			continue
		}
		if quantity(r.CPURequest) >= cores && quantity(r.MemoryRequest) >= mem {
			return r, tier, false
		}
	}
	return t[len(t)-1], tier, true
}

func tableBasis(role string, row Row, tier, items float64, replicas int, exceeded bool) string {
	var through string
	switch {
	case role != "gateway":
		through = fmt.Sprintf("%.0f items/s on this collector", items)
	case replicas > 0:
		through = fmt.Sprintf("tier throughput %.0f items/s = %.0f on this replica × %d replica(s) (stickycheck's ring members)", tier, items, replicas)
	default:
		through = fmt.Sprintf("tier throughput taken as this replica's %.0f items/s (replica count unknown: no stickycheck ring)", items)
	}
	if exceeded {
		return fmt.Sprintf("no row fits (%s, with requests covering the measured CPU and memory): the last row, exceeded — use the measured hint", through)
	}
	return fmt.Sprintf("the first row of the seed's %s table whose throughput bound (if any) holds %s and whose requests cover the measured CPU and memory: %q", role, through, row.Name)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// roundUp rounds v up to a multiple of step, ignoring float noise.
func roundUp(v, step float64) float64 { return math.Ceil(round(v/step, 6)) * step }
