package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"fmt"
	"net/http"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/selfmetrics"
)

// Metrics is one scrape of a collector's self-telemetry endpoint.
type Metrics selfmetrics.Families

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
	return selfmetrics.Parse(resp.Body)
}

// Sum adds the values of every series of a counter or gauge whose labels
// include all of match.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	total, _ := selfmetrics.Sum(selfmetrics.Families(m), name, match)
	return total
}
