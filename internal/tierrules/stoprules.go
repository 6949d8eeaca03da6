package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
)

// Defaults of the exporter's sending_queue at v0.159.0.
const (
	queueSize          = 1000
	batchSendBatchSize = 8192
)

func init() { rules = append(rules, stopRules...) }

var stopRules = []Rule{
	{
		ID:       "stop-grace-too-short",
		Severity: SeverityError,
		Roles:    allRoles,
		Needs:    "grace_period",
		Summary:  "The grace period (terminationGracePeriodSeconds, stop_grace_period) is shorter than the stop budget.",
		Why: "On a stop the collector runs, one after the other: the preStop delay, stickycheck's hand-over " +
			"(forward::drain), tail sampling's last decisions (decision_wait), batch's flush, the export queue's " +
			"drain (exportguard::drain::timeout) and the last export (the exporter's timeout). A grace period " +
			"shorter than their sum ends in SIGKILL while data is still in memory or in the queue.",
		check: func(c *Config, f Facts) []string {
			if f.GracePeriod <= 0 {
				return nil
			}
			b := c.Stop(f.PreStop)
			if f.GracePeriod >= b.Total() {
				return nil
			}
			return []string{fmt.Sprintf("grace period %s < stop budget %s: raise the grace period to at least %s or shorten the steps",
				f.GracePeriod, b, b.Total())}
		},
	},
	{
		ID:       "disk-queue-not-drained-at-stop",
		Severity: SeverityWarning,
		Roles:    allRoles,
		Summary:  "An exporter persists its sending_queue (storage) but no exportguard drains it before the exporter stops.",
		Why: "At v0.159.0 a persistent queue stops reading when its exporter shuts down: what it holds stays on " +
			"the volume until the same collector starts again with it. A replica removed by a scale-in never " +
			"does. exportguard (last processor of the pipeline) with drain::exporter set to this exporter waits " +
			"for the queue to empty while the exporter still sends.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.Pipelines {
				for _, id := range p.Exporters {
					q, ok := asMap(c.Exporters[id]["sending_queue"])
					if !ok || q["storage"] == nil {
						continue
					}
					if !c.drains(p, id) {
						out = append(out, fmt.Sprintf("pipeline %s: exporter %s keeps its queue on disk (storage %v) and nothing drains it at stop; add exportguard with drain::exporter: %s as the pipeline's last processor", p.ID, id, q["storage"], id))
					}
				}
			}
			return out
		},
	},
	{
		ID:       "export-queue-smaller-than-stop-release",
		Severity: SeverityWarning,
		Roles:    []Role{Gateway},
		Summary:  "The export queue cannot hold what tail sampling releases at once when the gateway stops.",
		Why: "On a stop tail sampling decides every trace it holds at once (up to num_traces) and hands the " +
			"kept ones to the exporter in one burst; a sending_queue smaller than that refuses the rest, and " +
			"at shutdown nothing retries it. At least one span per trace: the queue must hold num_traces items " +
			"(sizer items), num_traces/8192 requests of the batch processor (sizer requests).",
		check: func(c *Config, _ Facts) []string {
			ts, ok := c.TailSampling()
			if !ok {
				return nil
			}
			var out []string
			for _, p := range c.pipelines("traces") {
				for _, id := range p.Exporters {
					cfg, ok := c.Exporters[id]
					if !ok || localExporters[CanonicalType(id.Type())] || id.Is(TypeLoadBalancing) {
						continue
					}
					q, _ := asMap(cfg["sending_queue"])
					if enabled, ok := boolOf(q["enabled"]); ok && !enabled {
						continue
					}
					size := int64(queueSize)
					if n, ok := intOf(q["queue_size"]); ok {
						size = n
					}
					// An effective configuration (the topology extension's) shows
					// the sizer as {}: read as requests, the smallest need, so
					// the rule never finds more than the file says.
					sizer, _ := q["sizer"].(string)
					var need int64
					switch sizer {
					case "", "requests":
						need = (ts.NumTraces + batchSendBatchSize - 1) / batchSendBatchSize
					case "items":
						need = ts.NumTraces
					default: // bytes: a span is at least ~100 bytes on the wire
						need = ts.NumTraces * 100
					}
					if size < need {
						out = append(out, fmt.Sprintf("pipeline %s: exporter %s sending_queue::queue_size %d (%s) < %d, what %s's num_traces %d release at stop",
							p.ID, id, size, orDefault(sizer, "requests"), need, ts.ID, ts.NumTraces))
					}
				}
			}
			return out
		},
	},
}

// drains reports whether pipeline p runs an exportguard that drains
// exporter id at stop.
func (c *Config) drains(p Pipeline, id ComponentID) bool {
	for _, pid := range p.Processors {
		if !pid.Is(TypeExportGuard) {
			continue
		}
		d, ok := asMap(c.Processors[pid]["drain"])
		if ok && fmt.Sprint(d["exporter"]) == string(id) {
			return true
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
