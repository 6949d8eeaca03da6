// Package selfmetrics reads a collector's self-telemetry as its Prometheus
// reader serves it: the text format, and sums over series.
package selfmetrics // import "github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"

import (
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families = map[string]*dto.MetricFamily

// Parse reads the Prometheus text format.
func Parse(r io.Reader) (Families, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// Sum adds the values of every series of the counter, gauge or untyped
// family name (or name_total) whose labels include all of match; ok is false
// when the family is absent.
func Sum(fams Families, name string, match map[string]string) (total float64, ok bool) {
	fam, ok := fams[name]
	if !ok {
		if fam, ok = fams[name+"_total"]; !ok {
			return 0, false
		}
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total, true
}

func hasLabels(m *dto.Metric, match map[string]string) bool {
	found := 0
	for _, lp := range m.GetLabel() {
		if v, ok := match[lp.GetName()]; ok && v == lp.GetValue() {
			found++
		}
	}
	return found == len(match)
}
