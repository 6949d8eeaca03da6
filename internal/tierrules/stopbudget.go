package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"strings"
	"time"
)

// TypeExportGuard is our processor that holds the stop until the export
// queue is empty (processor/exportguardprocessor).
const TypeExportGuard = "exportguard"

// Defaults at v0.159.0 (and of our components) for what a file leaves out.
const (
	batchTimeout           = 200 * time.Millisecond
	exporterTimeout        = 5 * time.Second
	stickycheckForwardHold = 5 * time.Second // STICKYCHECK_DRAIN's default (issue 14)
	exportGuardDrain       = 20 * time.Second
)

// StopStep is one step of a collector's stop and the longest it may take.
type StopStep struct {
	// Name says which step, Source which setting bounds it.
	Name   string
	Source string
	Max    time.Duration
}

// StopBudget is the longest a stop may take, step by step, in the order
// they run on SIGTERM: the preStop delay (the kubelet's, before SIGTERM),
// receivers close, stickycheck hands its held traces over
// (stickycheck::forward::drain), tail sampling decides
// (decision_wait bounds it), batch flushes (its timeout), and the export
// queue drains (exportguard::drain::timeout, or the exporter's timeout for
// the one request in flight when nothing waits for the queue).
type StopBudget struct {
	Steps []StopStep
}

// Total is the sum of the steps: the grace period must be at least this.
func (b StopBudget) Total() time.Duration {
	var t time.Duration
	for _, s := range b.Steps {
		t += s.Max
	}
	return t
}

// String is the sum written out, e.g. "preStop 10s + decision_wait 10s + … = 45.4s".
func (b StopBudget) String() string {
	parts := make([]string, len(b.Steps))
	for i, s := range b.Steps {
		parts[i] = fmt.Sprintf("%s %s", s.Source, s.Max)
	}
	return strings.Join(parts, " + ") + " = " + b.Total().String()
}

// Stop returns the stop budget of a configuration, given the preStop delay
// of its pod (0 outside Kubernetes). It is the one place that adds the stop
// up: the tiercheck rule, the manifests' tests and the README use it.
func (c *Config) Stop(preStop time.Duration) StopBudget {
	var b StopBudget
	add := func(name, source string, d time.Duration) {
		if d > 0 {
			b.Steps = append(b.Steps, StopStep{Name: name, Source: source, Max: d})
		}
	}
	add("agents stop sending (kubelet preStop)", "preStop", preStop)
	add("stickycheck hands held traces to their owner", "stickycheck::forward::drain", c.longest(TypeStickycheck, func(cfg map[string]any) (time.Duration, bool) {
		fwd, ok := asMap(cfg["forward"])
		if !ok {
			return 0, false
		}
		if on, ok := boolOf(fwd["enabled"]); ok && !on {
			return 0, false
		}
		if d, ok := durationOf(fwd["drain"]); ok {
			return d, true
		}
		return stickycheckForwardHold, true
	}))
	if ts, ok := c.TailSampling(); ok {
		add("tail sampling decides", "tail_sampling::decision_wait", ts.DecisionWait)
	}
	add("batch flushes", "batch::timeout", c.longest(TypeBatch, func(cfg map[string]any) (time.Duration, bool) {
		if d, ok := durationOf(cfg["timeout"]); ok {
			return d, true
		}
		return batchTimeout, true
	}))
	drain := c.longest(TypeExportGuard, func(cfg map[string]any) (time.Duration, bool) {
		d, ok := asMap(cfg["drain"])
		if !ok {
			return 0, false
		}
		if t, ok := durationOf(d["timeout"]); ok {
			return t, true
		}
		return exportGuardDrain, true
	})
	if drain > 0 {
		add("export queue drains", "exportguard::drain::timeout", drain)
	}
	// The request in flight when the exporter stops (or, without a drain,
	// the last one a memory queue sends), and the exporter's own batch.
	add("last export", "exporter timeout", c.exportBound())
	return b
}

// longest returns the largest d that of reports over the processors of
// canonical type t the pipelines use.
func (c *Config) longest(t string, of func(cfg map[string]any) (time.Duration, bool)) time.Duration {
	var out time.Duration
	for _, u := range c.used(t) {
		if d, ok := of(c.Processors[u.id]); ok && d > out {
			out = d
		}
	}
	return out
}

// exportBound is the longest network exporter's timeout plus its
// sending_queue batch's flush_timeout.
func (c *Config) exportBound() time.Duration {
	var out time.Duration
	for _, p := range c.Pipelines {
		for _, id := range p.Exporters {
			cfg, ok := c.Exporters[id]
			if !ok || localExporters[CanonicalType(id.Type())] {
				continue
			}
			d := exporterTimeout
			if t, ok := durationOf(cfg["timeout"]); ok {
				d = t
			}
			if q, ok := asMap(cfg["sending_queue"]); ok {
				if b, ok := asMap(q["batch"]); ok {
					if f, ok := durationOf(b["flush_timeout"]); ok {
						d += f
					} else {
						d += batchTimeout
					}
				}
			}
			out = max(out, d)
		}
	}
	return out
}
