package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Defaults of the upstream components at v0.159.0, for configurations that
// leave the field out (a file does; an effective configuration has them).
const (
	tailSamplingNumTraces    = 50_000
	tailSamplingDecisionWait = 30 * time.Second
	groupByTraceNumTraces    = 1_000_000
	groupByTraceWaitDuration = time.Second
)

// podLogsDir is where the kubelet writes container logs on every node.
const podLogsDir = "/var/log/pods"

// Exporters that write locally or nowhere: no request per item to batch.
var localExporters = map[string]bool{"debug": true, "nop": true, "file": true}

var allRoles = []Role{Agent, Gateway, Sidecar}

var rules = []Rule{
	{
		ID:       "gateway-tail-sampling-without-stickycheck",
		Severity: SeverityWarning,
		Roles:    []Role{Gateway},
		Summary:  "A gateway runs tail_sampling or groupbytrace in a traces pipeline without stickycheck before it.",
		Why: "Tail sampling decides correctly only when every span of a trace reaches the same replica. Nothing " +
			"upstream tells when that breaks (a ClusterIP Service instead of the headless one, agents with a stale " +
			"member list, apps sending to the gateways directly); stickycheck, placed before tail_sampling, counts " +
			"the spans that reached the wrong replica.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.pipelines("traces") {
				sticky := -1
				for i, id := range p.Processors {
					switch {
					case id.Is(TypeStickycheck) && sticky < 0:
						sticky = i
					case (id.Is(TypeTailSampling) || id.Is(TypeGroupByTrace)) && sticky < 0:
						out = append(out, fmt.Sprintf("pipeline %s: %s runs without stickycheck before it: split traces go unnoticed", p.ID, id))
					}
				}
			}
			return out
		},
	},
	{
		ID:       "tail-sampling-outside-gateway",
		Severity: SeverityError,
		Roles:    []Role{Agent, Sidecar},
		Summary:  "An agent or a sidecar runs tail_sampling or groupbytrace.",
		Why: "An agent sees the spans of its node's pods, a sidecar those of its own pod: a trace that crosses " +
			"pods is never whole there, so decisions are taken on fragments and one trace is kept in part and " +
			"dropped in part. Trace-grouping belongs on gateways fed by the load-balancing exporter.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.pipelines("traces") {
				for _, id := range p.Processors {
					if id.Is(TypeTailSampling) || id.Is(TypeGroupByTrace) {
						out = append(out, fmt.Sprintf("pipeline %s: %s outside a gateway decides on partial traces", p.ID, id))
					}
				}
			}
			return out
		},
	},
	{
		ID:       "load-balancing-routing-key",
		Severity: SeverityError,
		Roles:    allRoles,
		Summary:  "A traces pipeline feeds the gateways through load_balancing with a routing_key other than traceID.",
		Why: "Only traceID routing sends every span of a trace to the same gateway replica; with service, " +
			"resource, attributes or streamID routing the spans of one trace are spread over the replicas and " +
			"tail sampling decides on fragments.",
		check: func(c *Config, _ Facts) []string {
			return c.routingKeys(func(pipeline string, id ComponentID, key string) string {
				if key == "" || key == "traceID" {
					return ""
				}
				return fmt.Sprintf("pipeline %s: exporter %s routes by routing_key %q, not traceID: spans of one trace reach different gateways", pipeline, id, key)
			})
		},
	},
	{
		ID:       "load-balancing-routing-key-implicit",
		Severity: SeverityInfo,
		Roles:    allRoles,
		Summary:  "A traces pipeline feeds the gateways through load_balancing without writing routing_key: traceID.",
		Why: "At v0.159.0 an empty routing_key routes traces by trace ID, so this works; writing it makes the " +
			"requirement visible and keeps it if the default ever changes.",
		check: func(c *Config, _ Facts) []string {
			return c.routingKeys(func(pipeline string, id ComponentID, key string) string {
				if key != "" {
					return ""
				}
				return fmt.Sprintf("pipeline %s: exporter %s has no routing_key: it routes by trace ID only by default; write routing_key: traceID", pipeline, id)
			})
		},
	},
	{
		ID:       "memory-limiter-missing",
		Severity: SeverityWarning,
		Roles:    allRoles,
		Summary:  "A pipeline has no memory_limiter.",
		Why: "Without memory_limiter a burst grows the heap until the container is OOM-killed, losing everything " +
			"in flight; with it the collector refuses data (receivers answer with a retryable error) and recovers.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.Pipelines {
				if indexOf(p.Processors, TypeMemoryLimiter) < 0 {
					out = append(out, fmt.Sprintf("pipeline %s: no memory_limiter", p.ID))
				}
			}
			return out
		},
	},
	{
		ID:       "memory-limiter-not-first",
		Severity: SeverityWarning,
		Roles:    allRoles,
		Summary:  "A pipeline's memory_limiter is not its first processor.",
		Why: "memory_limiter can only refuse data before other processors have spent memory on it; placed after " +
			"them, the memory is already allocated when it says no.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.Pipelines {
				if i := indexOf(p.Processors, TypeMemoryLimiter); i > 0 {
					out = append(out, fmt.Sprintf("pipeline %s: %s is processor %d of %d, after %s; it must come first",
						p.ID, p.Processors[i], i+1, len(p.Processors), joinIDs(p.Processors[:i])))
				}
			}
			return out
		},
	},
	{
		ID:       "batch-missing",
		Severity: SeverityWarning,
		Roles:    allRoles,
		Summary:  "A pipeline exports over the network without batch (and without batching in the exporter's sending_queue).",
		Why: "Unbatched, every incoming request becomes an outgoing one: many small requests, more CPU per item " +
			"and more load on the next tier or the backend.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, p := range c.Pipelines {
				if indexOf(p.Processors, TypeBatch) >= 0 {
					continue
				}
				var unbatched []ComponentID
				for _, id := range p.Exporters {
					if _, connector := c.Connectors[id]; connector || localExporters[CanonicalType(id.Type())] {
						continue
					}
					if !queueBatches(c.Exporters[id]) {
						unbatched = append(unbatched, id)
					}
				}
				if len(unbatched) > 0 {
					out = append(out, fmt.Sprintf("pipeline %s: exports to %s without batch", p.ID, joinIDs(unbatched)))
				}
			}
			return out
		},
	},
	{
		ID:       "gateway-without-health-check",
		Severity: SeverityError,
		Roles:    []Role{Gateway},
		Summary:  "A gateway runs no health_check extension.",
		Why: "Gateways run behind a Service with liveness and readiness probes on port 13133: without " +
			"health_check the probes fail, the pod is never ready (and gets restarted), and a rolling update " +
			"cannot tell a replica that is up from one that is not.",
		check: func(c *Config, _ Facts) []string {
			if c.Runs(TypeHealthCheck) {
				return nil
			}
			return []string{"service::extensions has no health_check: liveness and readiness probes have nothing to ask"}
		},
	},
	{
		ID:       "sidecar-k8s-attributes",
		Severity: SeverityError,
		Roles:    []Role{Sidecar},
		Summary:  "A sidecar runs k8s_attributes.",
		Why: "A sidecar has no cluster access (no RBAC to list pods), and all its data comes from localhost, so " +
			"there is no pod IP to associate: k8s_attributes fails to start or adds nothing. Set the pod's " +
			"attributes in the application's resource (OTEL_RESOURCE_ATTRIBUTES from the downward API) instead.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, u := range c.used(TypeK8sAttributes) {
				out = append(out, fmt.Sprintf("processor %s (pipelines %s) on a sidecar: no cluster access", u.id, strings.Join(u.pipelines, ", ")))
			}
			return out
		},
	},
	{
		ID:       "agent-not-daemonset",
		Severity: SeverityError,
		Roles:    []Role{Agent},
		Needs:    "workload",
		Summary:  "An agent that reads /var/log/pods runs in a workload that is not a DaemonSet.",
		Why: "Pod logs are files on each node: only one collector per node (a DaemonSet) reads every node's " +
			"logs exactly once. In a Deployment some nodes have no reader and others two, each shipping the same " +
			"lines.",
		check: func(c *Config, f Facts) []string {
			if f.Workload == "" || f.Workload == "DaemonSet" {
				return nil
			}
			var out []string
			for _, u := range c.used(TypeFileLog) {
				if readsPodLogs(c.Receivers[u.id]) {
					out = append(out, fmt.Sprintf("receiver %s reads %s but this collector runs as a %s, not a DaemonSet", u.id, podLogsDir, f.Workload))
				}
			}
			return out
		},
	},
	{
		ID:       "node-collection-outside-agent",
		Severity: SeverityWarning,
		Roles:    []Role{Gateway, Sidecar},
		Summary:  "A gateway or a sidecar collects host metrics, kubelet stats or pod logs.",
		Why: "Host metrics, kubelet stats and /var/log/pods describe the node the collector happens to run on: " +
			"from gateway replicas they are duplicated or missing depending on scheduling, from sidecars once per " +
			"application pod. They belong on the agent, one per node.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, t := range []string{TypeHostMetrics, TypeKubeletStats, TypeFileLog} {
				for _, u := range c.used(t) {
					if t == TypeFileLog && !readsPodLogs(c.Receivers[u.id]) {
						continue
					}
					out = append(out, fmt.Sprintf("receiver %s (pipelines %s) collects node data outside an agent", u.id, strings.Join(u.pipelines, ", ")))
				}
			}
			return out
		},
	},
	{
		ID:       "tail-sampling-num-traces-too-small",
		Severity: SeverityError,
		Roles:    allRoles,
		Needs:    "traces_per_second",
		Summary:  "tail_sampling's num_traces (or groupbytrace's) is smaller than the traces arriving during decision_wait at the measured trace rate.",
		Why: "Traces wait decision_wait in a buffer of num_traces; when more traces arrive in that time, the oldest " +
			"are evicted before their decision and their spans are lost (the processor counts them in " +
			"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early).",
		check: func(c *Config, f Facts) []string {
			if f.TracesPerSecond <= 0 {
				return nil
			}
			var out []string
			for _, g := range []struct {
				typ, waitKey string
				num          int64
				wait         time.Duration
			}{
				{TypeTailSampling, "decision_wait", tailSamplingNumTraces, tailSamplingDecisionWait},
				{TypeGroupByTrace, "wait_duration", groupByTraceNumTraces, groupByTraceWaitDuration},
			} {
				for _, u := range c.used(g.typ) {
					cfg := c.Processors[u.id]
					num, wait := g.num, g.wait
					if n, ok := intOf(cfg["num_traces"]); ok {
						num = n
					}
					if d, ok := durationOf(cfg[g.waitKey]); ok {
						wait = d
					}
					need := f.TracesPerSecond * wait.Seconds()
					if float64(num) < need {
						out = append(out, fmt.Sprintf("processor %s: num_traces %d < %.0f traces arriving during %s %s at %.0f traces/s: traces are dropped before their decision; set num_traces to at least %d (twice that for bursts)",
							u.id, num, need, g.waitKey, wait, f.TracesPerSecond, int64(math.Ceil(need))))
					}
				}
			}
			return out
		},
	},
	{
		ID:       "stickycheck-outside-gateway",
		Severity: SeverityWarning,
		Roles:    []Role{Agent, Sidecar},
		Summary:  "An agent or a sidecar runs stickycheck.",
		Why: "stickycheck checks that a gateway replica owns the traces it receives; on an agent or a sidecar " +
			"no span is owned by this collector, so every span counts as misrouted.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			for _, u := range c.used(TypeStickycheck) {
				out = append(out, fmt.Sprintf("processor %s (pipelines %s) outside a gateway", u.id, strings.Join(u.pipelines, ", ")))
			}
			return out
		},
	},
}

func (c *Config) pipelines(signal string) []Pipeline {
	var out []Pipeline
	for _, p := range c.Pipelines {
		if p.Signal() == signal {
			out = append(out, p)
		}
	}
	return out
}

// routingKeys calls finding for each load_balancing exporter of a traces
// pipeline with its routing_key, and keeps the non-empty answers.
func (c *Config) routingKeys(finding func(pipeline string, id ComponentID, key string) string) []string {
	var out []string
	for _, p := range c.pipelines("traces") {
		for _, id := range p.Exporters {
			if !id.Is(TypeLoadBalancing) {
				continue
			}
			key, _ := c.Exporters[id]["routing_key"].(string)
			if msg := finding(p.ID, id, key); msg != "" {
				out = append(out, msg)
			}
		}
	}
	return out
}

type usage struct {
	id        ComponentID
	pipelines []string
}

// used lists the components of canonical type t that pipelines use, each
// with the pipelines it is in, sorted by id.
func (c *Config) used(t string) []usage {
	byID := map[ComponentID][]string{}
	for _, p := range c.Pipelines {
		for _, ids := range [][]ComponentID{p.Receivers, p.Processors, p.Exporters} {
			for _, id := range ids {
				if id.Is(t) {
					byID[id] = append(byID[id], p.ID)
				}
			}
		}
	}
	out := make([]usage, 0, len(byID))
	for id, ps := range byID {
		out = append(out, usage{id: id, pipelines: ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func indexOf(ids []ComponentID, t string) int {
	for i, id := range ids {
		if id.Is(t) {
			return i
		}
	}
	return -1
}

func joinIDs(ids []ComponentID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// queueBatches reports whether an exporter batches in its sending queue
// (sending_queue::batch set, and the queue not disabled).
func queueBatches(cfg map[string]any) bool {
	q, ok := asMap(cfg["sending_queue"])
	if !ok {
		return false
	}
	if enabled, ok := boolOf(q["enabled"]); ok && !enabled {
		return false
	}
	b, ok := q["batch"]
	return ok && b != nil
}

func readsPodLogs(cfg map[string]any) bool {
	include, _ := cfg["include"].([]any)
	for _, p := range include {
		if s, ok := p.(string); ok && strings.HasPrefix(s, podLogsDir) {
			return true
		}
	}
	return false
}
