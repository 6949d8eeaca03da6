// Package sizing turns what a collector measures about itself into sizing
// hints: the row of the seed's tables that matches, and requests and limits
// computed from the measured cost, each number with its basis.
package sizing // import "github.com/otelcol-tiered/otelcol-tiered/internal/sizing"

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Row is one row of a sizing table.
type Row struct {
	Name string `mapstructure:"name" json:"name"`
	// MaxItemsPerSecond bounds the tier's throughput this row is for; 0 is
	// no bound.
	MaxItemsPerSecond float64 `mapstructure:"max_items_per_second" json:"max_items_per_second,omitempty"`
	CPURequest        string  `mapstructure:"cpu_request" json:"cpu_request"`
	MemoryRequest     string  `mapstructure:"memory_request" json:"memory_request"`
	CPULimit          string  `mapstructure:"cpu_limit" json:"cpu_limit"`
	MemoryLimit       string  `mapstructure:"memory_limit" json:"memory_limit"`
	// Replicas is the number of replicas of the tier (gateways).
	Replicas int `mapstructure:"replicas" json:"replicas,omitempty"`
}

// Table is a sizing table, smallest row first.
type Table []Row

// Validate checks every row; errors name the row and the field. An empty
// table is valid: it overrides nothing.
func (t Table) Validate() error {
	var errs []error
	prevBound, unbounded := 0.0, false
	for i, r := range t {
		at := func(field string) string { return fmt.Sprintf("[%d]::%s", i, field) }
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("%s: required", at("name")))
		}
		q := map[string]resource.Quantity{}
		for _, f := range []struct{ name, value string }{
			{"cpu_request", r.CPURequest}, {"memory_request", r.MemoryRequest},
			{"cpu_limit", r.CPULimit}, {"memory_limit", r.MemoryLimit},
		} {
			v, err := resource.ParseQuantity(f.value)
			switch {
			case f.value == "":
				errs = append(errs, fmt.Errorf("%s: required, a Kubernetes quantity such as 500m or 1Gi", at(f.name)))
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %q is not a Kubernetes quantity (such as 500m or 1Gi)", at(f.name), f.value))
			case v.Sign() <= 0:
				errs = append(errs, fmt.Errorf("%s: must be positive, got %q", at(f.name), f.value))
			default:
				q[f.name] = v
			}
		}
		for _, kind := range []string{"cpu", "memory"} {
			req, okr := q[kind+"_request"]
			lim, okl := q[kind+"_limit"]
			if okr && okl && lim.Cmp(req) < 0 {
				errs = append(errs, fmt.Errorf("%s: %s is below %s_request %s", at(kind+"_limit"), lim.String(), kind, req.String()))
			}
		}
		switch {
		case r.MaxItemsPerSecond < 0:
			errs = append(errs, fmt.Errorf("%s: must not be negative", at("max_items_per_second")))
		case r.MaxItemsPerSecond > 0 && unbounded:
			errs = append(errs, fmt.Errorf("%s: a bounded row after an unbounded one is never chosen", at("max_items_per_second")))
		case r.MaxItemsPerSecond > 0 && r.MaxItemsPerSecond <= prevBound:
			errs = append(errs, fmt.Errorf("%s: %g is not above the previous row's %g: rows go from smallest to largest", at("max_items_per_second"), r.MaxItemsPerSecond, prevBound))
		}
		if r.MaxItemsPerSecond > 0 {
			prevBound = r.MaxItemsPerSecond
		} else {
			unbounded = true
		}
		if r.Replicas < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", at("replicas")))
		}
	}
	return errors.Join(errs...)
}

// quantity parses a value of a validated row.
func quantity(s string) float64 {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0
	}
	return q.AsApproximateFloat64()
}
