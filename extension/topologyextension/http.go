package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// status is the document of GET /topology.
type status struct {
	Role       string                     `json:"role"`
	Component  string                     `json:"component"`
	InstanceID string                     `json:"instance_id"`
	Build      build                      `json:"build"`
	Workload   string                     `json:"workload,omitempty"`
	Notes      []string                   `json:"notes,omitempty"`
	Strict     bool                       `json:"strict"`
	Pipelines  []tierrules.Pipeline       `json:"pipelines"`
	Findings   []tierrules.Finding        `json:"findings"`
	BySeverity map[tierrules.Severity]int `json:"findings_by_severity"`
	Sizing     sizing.Report              `json:"sizing"`
}

type build struct {
	Command string `json:"command"`
	Version string `json:"version"`
}

func (t *topology) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /topology", t.serveTopology)
	mux.HandleFunc("GET /topology/sizing", t.serveSizing)
	return mux
}

func (t *topology) serveTopology(w http.ResponseWriter, _ *http.Request) {
	report := t.report()
	t.mu.Lock()
	st := status{
		Role:       string(t.role),
		Component:  t.set.ID.String(),
		Build:      build{Command: t.set.BuildInfo.Command, Version: t.set.BuildInfo.Version},
		Workload:   t.workload,
		Strict:     t.cfg.Strict,
		Pipelines:  []tierrules.Pipeline{},
		Findings:   append([]tierrules.Finding{}, t.findings...), // never null in JSON
		BySeverity: tierrules.Count(t.findings),
		Sizing:     report,
	}
	if t.conf != nil {
		st.Pipelines = t.conf.Pipelines
	} else {
		st.Notes = append(st.Notes, "the collector has not given its configuration yet: no rule check")
	}
	if t.workloadNote != "" {
		st.Notes = append(st.Notes, "workload unknown: "+t.workloadNote)
	}
	t.mu.Unlock()
	if id, ok := t.set.TelemetrySettings.Resource.Attributes().Get("service.instance.id"); ok {
		st.InstanceID = id.AsString()
	}
	writeJSON(w, st)
}

func (t *topology) serveSizing(w http.ResponseWriter, r *http.Request) {
	src := sizing.Source(r.URL.Query().Get("source"))
	switch src {
	case "":
		src = sizing.SourceHint
	case sizing.SourceHint, sizing.SourceTable:
	default:
		http.Error(w, fmt.Sprintf("source: unknown %q, want hint or table", src), http.StatusBadRequest)
		return
	}
	report := t.report()
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		writeJSON(w, report)
	case "k8s":
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write([]byte(sizing.K8s(report, src)))
	default:
		http.Error(w, fmt.Sprintf("format: unknown %q, want json or k8s", format), http.StatusBadRequest)
	}
}

// report computes the sizing block from the latest measurement.
func (t *topology) report() sizing.Report {
	t.mu.Lock()
	in := sizing.Input{
		Role: string(t.role), Table: t.table, Cost: t.cost, LimitFactor: t.cfg.Sizing.LimitFactor,
		TailSampling: t.tailSampling,
	}
	m, note := t.meter, t.meterNote
	t.mu.Unlock()
	if m != nil {
		in.Measurement = m.measurement()
	} else {
		in.Measurement = sizing.Measurement{Problem: note}
	}
	return sizing.Compute(in)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
