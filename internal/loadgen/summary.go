package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Summary is the result of a run, printed as text or JSON.
type Summary struct {
	Endpoint    string   `json:"endpoint"`
	Protocol    Protocol `json:"protocol"`
	Compression string   `json:"compression"`
	// TargetRate in spans/s; 0 for rate max.
	TargetRate float64 `json:"target_rate"`
	Seconds    float64 `json:"seconds"`
	Requests   Tally   `json:"requests"`
	Spans      Tally   `json:"spans"`
	// Rate is accepted spans per second of the run.
	Rate     float64       `json:"rate"`
	Statuses []StatusCount `json:"statuses,omitempty"`
	Latency  Latency       `json:"latency_ms"`
	Shape    ShapeJSON     `json:"request"`
	Seed     uint64        `json:"seed"`
	// Traces sent had the indices [0, Traces) for TraceID(Seed, index).
	Traces int64 `json:"traces"`
	// CPUSeconds the generator spent while sending, and the spans it pushed
	// per CPU-second: what a benchmark compares with the collector's.
	CPUSeconds        float64 `json:"cpu_seconds"`
	SpansPerCPUSecond float64 `json:"spans_per_cpu_second"`
}

// Tally counts by outcome. Sent is their sum: requests answered or given up.
type Tally struct {
	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"`
	Refused  int64 `json:"refused"`
	Failed   int64 `json:"failed"`
}

// StatusCount is one kind of answer other than OK.
type StatusCount struct {
	Status string `json:"status"`
	// Refused is true when the collector answered (false: no answer came).
	Refused  bool   `json:"refused"`
	Requests int64  `json:"requests"`
	Spans    int64  `json:"spans"`
	Message  string `json:"message,omitempty"`
}

// Latency quantiles of the requests, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ShapeJSON is the request's shape and size.
type ShapeJSON struct {
	Spans            int `json:"spans"`
	SpansPerTrace    int `json:"spans_per_trace"`
	TracesPerRequest int `json:"traces"`
	Attributes       int `json:"attributes"`
	AttributeSize    int `json:"attribute_size"`
	Services         int `json:"services"`
	Bytes            int `json:"bytes"`
}

func newSummary(cfg Config, tmpl *Template, c *counters, elapsed time.Duration, cpu float64) *Summary {
	spans := int64(cfg.Shape.Spans())
	s := &Summary{
		Endpoint:    cfg.Endpoint,
		Protocol:    cfg.Protocol,
		Compression: cfg.Compression,
		TargetRate:  cfg.Rate,
		Seconds:     elapsed.Seconds(),
		Requests:    Tally{Accepted: c.accReq.Load(), Refused: c.refReq.Load(), Failed: c.failReq.Load()},
		Spans:       Tally{Accepted: c.accSpans.Load(), Refused: c.refSpans.Load(), Failed: c.failSpans.Load()},
		Statuses:    c.statusList(),
		Shape: ShapeJSON{
			Spans: cfg.Shape.Spans(), SpansPerTrace: cfg.Shape.SpansPerTrace, TracesPerRequest: cfg.Shape.TracesPerRequest,
			Attributes: cfg.Shape.Attributes, AttributeSize: cfg.Shape.AttributeSize, Services: cfg.Shape.Services,
			Bytes: tmpl.Size(),
		},
		Seed:       cfg.Seed,
		CPUSeconds: cpu,
	}
	s.Requests.Sent = s.Requests.Accepted + s.Requests.Refused + s.Requests.Failed
	s.Spans.Sent = s.Requests.Sent * spans
	s.Traces = s.Requests.Sent * int64(cfg.Shape.TracesPerRequest)
	if s.Seconds > 0 {
		s.Rate = float64(s.Spans.Accepted) / s.Seconds
	}
	if cpu > 0 {
		s.SpansPerCPUSecond = float64(s.Spans.Sent) / cpu
	}
	s.Latency = Latency{P50: c.latency.quantile(0.5), P90: c.latency.quantile(0.9), P99: c.latency.quantile(0.99), Max: float64(c.latency.max.Load()) / 1000}
	if s.Requests.Sent == 0 {
		s.Latency = Latency{}
	}
	return s
}

// OK is true when the collector accepted every span sent.
func (s *Summary) OK() bool { return s.Spans.Refused == 0 && s.Spans.Failed == 0 }

// Problem says what went wrong, naming the statuses, or "" when OK.
func (s *Summary) Problem() string {
	if s.OK() {
		return ""
	}
	var parts []string
	for _, kind := range []bool{true, false} {
		var names []string
		var reqs int64
		for _, st := range s.Statuses {
			if st.Refused == kind {
				names = append(names, st.Status)
				reqs += st.Requests
			}
		}
		if len(names) == 0 {
			continue
		}
		verb := "failed (no answer)"
		if kind {
			verb = "refused"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s (%s)", s.Endpoint, verb, plural(reqs, "request"), strings.Join(names, ", ")))
	}
	return strings.Join(parts, "; ")
}

// WriteJSON writes the summary as one JSON document.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes the summary for a person.
func (s *Summary) WriteText(w io.Writer) error {
	target := "max"
	if s.TargetRate > 0 {
		target = Count(int64(math.Round(s.TargetRate)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loadgen: %s spans in %s to %s (%s) in %.1f s\n", Count(s.Spans.Sent), plural(s.Requests.Sent, "request"), s.Endpoint, s.Protocol, s.Seconds)
	fmt.Fprintf(&b, "  accepted  %s spans\n", Count(s.Spans.Accepted))
	fmt.Fprintf(&b, "  refused   %s spans\n", Count(s.Spans.Refused))
	fmt.Fprintf(&b, "  failed    %s spans\n", Count(s.Spans.Failed))
	for _, st := range s.Statuses {
		kind := "failed "
		if st.Refused {
			kind = "refused"
		}
		fmt.Fprintf(&b, "    %s %s: %s, %s spans", kind, st.Status, plural(st.Requests, "request"), Count(st.Spans))
		if st.Message != "" {
			fmt.Fprintf(&b, ": %s", st.Message)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  rate      %s spans/s accepted (target %s)\n", Count(int64(math.Round(s.Rate))), target)
	if s.Requests.Sent > 0 {
		fmt.Fprintf(&b, "  latency   p50 %s  p90 %s  p99 %s  max %s\n", ms(s.Latency.P50), ms(s.Latency.P90), ms(s.Latency.P99), ms(s.Latency.Max))
	}
	fmt.Fprintf(&b, "  request   %d spans in %d traces of %d, %s bytes (%d bytes/span), %s\n", s.Shape.Spans, s.Shape.TracesPerRequest,
		s.Shape.SpansPerTrace, Count(int64(s.Shape.Bytes)), s.Shape.Bytes/max(s.Shape.Spans, 1), s.Compression)
	if s.Traces > 0 {
		fmt.Fprintf(&b, "  traces    seed %d, indices 0 to %s\n", s.Seed, Count(s.Traces-1))
	}
	fmt.Fprintf(&b, "  cpu       %.2f s: %s spans per CPU-second\n", s.CPUSeconds, Count(int64(s.SpansPerCPUSecond)))
	_, err := io.WriteString(w, b.String())
	return err
}

// Line is the live progress line.
func (p Progress) Line() string {
	return fmt.Sprintf("%5.0fs  sent %s  accepted %s  refused %s  failed %s  %s spans/s",
		p.Elapsed.Seconds(), Count(p.Sent), Count(p.Accepted), Count(p.Refused), Count(p.Failed), Count(int64(math.Round(p.Rate))))
}

// Count formats n with thousands separators.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return Count(n) + " " + word + "s"
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
