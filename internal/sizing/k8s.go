package sizing // import "github.com/otelcol-tiered/otelcol-tiered/internal/sizing"

import (
	"fmt"
	"strings"
)

// Source chooses what the Kubernetes block is made of.
type Source string

// The sources of the Kubernetes block.
const (
	// SourceHint is the measured hint (the table row while nothing is measured).
	SourceHint Source = "hint"
	// SourceTable is the matching row of the seed's table.
	SourceTable Source = "table"
)

// K8s renders a ready-to-paste Kubernetes block: a container's resources
// and, for a gateway, replicas and HPA bounds, with the basis of every
// figure in comments.
func K8s(r Report, src Source) string {
	res, basis := r.Hint, "measured hint: "+r.Hint.Basis
	if src == SourceTable {
		res = Resources{
			Requests: Quantities{CPU: r.Table.Row.CPURequest, Memory: r.Table.Row.MemoryRequest},
			Limits:   Quantities{CPU: r.Table.Row.CPULimit, Memory: r.Table.Row.MemoryLimit},
		}
		basis = "seed table row: " + r.Table.Basis
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Sizing of an otelcol-tiered %s, from its topology extension.\n", r.Role)
	fmt.Fprintf(&b, "# Measured: %.1f items/s (%.1f spans/s, %.1f metric points/s, %.1f log records/s), %.4f cores, RSS %d MiB, over %s.\n",
		r.Measured.ItemsPerSecond, r.Measured.SpansPerSecond, r.Measured.MetricPointsPerSecond, r.Measured.LogRecordsPerSecond,
		r.Measured.CPUCores, r.Measured.RSSBytes/mi, r.Measured.Over)
	comment(&b, "resources: "+basis)
	fmt.Fprintf(&b, "resources:\n  requests:\n    cpu: %q\n    memory: %q\n  limits:\n    cpu: %q\n    memory: %q\n",
		res.Requests.CPU, res.Requests.Memory, res.Limits.CPU, res.Limits.Memory)
	if r.Replicas != nil {
		comment(&b, "replicas, hpa: "+r.Replicas.Basis)
		fmt.Fprintf(&b, "replicas: %d\nhpa:\n  minReplicas: %d\n  maxReplicas: %d\n", r.Replicas.Replicas, r.Replicas.HPAMin, r.Replicas.HPAMax)
	}
	return b.String()
}

// comment writes text as YAML comment lines of at most about 110 characters.
func comment(b *strings.Builder, text string) {
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 110 && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}
