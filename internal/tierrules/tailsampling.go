package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import "time"

// TailSampling is the configuration of a tail_sampling processor that a
// pipeline runs, with the processor's defaults for what is left out.
type TailSampling struct {
	ID           ComponentID
	DecisionWait time.Duration
	NumTraces    int64
}

// TailSampling returns the first tail_sampling processor (by id) that a
// pipeline runs, if any.
func (c *Config) TailSampling() (TailSampling, bool) {
	used := c.used(TypeTailSampling)
	if len(used) == 0 {
		return TailSampling{}, false
	}
	ts := TailSampling{ID: used[0].id, DecisionWait: tailSamplingDecisionWait, NumTraces: tailSamplingNumTraces}
	cfg := c.Processors[ts.ID]
	if d, ok := durationOf(cfg["decision_wait"]); ok {
		ts.DecisionWait = d
	}
	if n, ok := intOf(cfg["num_traces"]); ok {
		ts.NumTraces = n
	}
	return ts, true
}
