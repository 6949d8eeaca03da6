package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a collector's self-telemetry endpoint.
type Metrics map[string]*dto.MetricFamily

// Scrape reads http://addr/metrics (the Prometheus text format).
func Scrape(addr string) (Metrics, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// Sum adds the values of every series of a counter or gauge whose labels
// include all of match.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	fam, ok := m[name]
	if !ok {
		return 0
	}
	var total float64
	for _, metric := range fam.GetMetric() {
		if !hasLabels(metric, match) {
			continue
		}
		switch {
		case metric.GetCounter() != nil:
			total += metric.GetCounter().GetValue()
		case metric.GetGauge() != nil:
			total += metric.GetGauge().GetValue()
		case metric.GetUntyped() != nil:
			total += metric.GetUntyped().GetValue()
		}
	}
	return total
}

func hasLabels(metric *dto.Metric, match map[string]string) bool {
	found := 0
	for _, lp := range metric.GetLabel() {
		if v, ok := match[lp.GetName()]; ok && v == lp.GetValue() {
			found++
		}
	}
	return found == len(match)
}
