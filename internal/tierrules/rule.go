package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"sort"
	"time"
)

// Role is the tier a collector plays.
type Role string

// The roles.
const (
	Agent   Role = "agent"
	Gateway Role = "gateway"
	Sidecar Role = "sidecar"
)

// Roles lists every role.
var Roles = []Role{Agent, Gateway, Sidecar}

// ParseRole accepts agent, gateway or sidecar.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	if s == "" {
		return "", fmt.Errorf("required, one of agent, gateway, sidecar")
	}
	return "", fmt.Errorf("unknown role %q, want one of agent, gateway, sidecar", s)
}

// Severity is how bad a finding is. Error-level findings stop a collector
// whose topology extension is strict, and fail cmd/tiercheck.
type Severity string

// The severities, worst first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Severities lists every severity, worst first.
var Severities = []Severity{SeverityError, SeverityWarning, SeverityInfo}

func (s Severity) rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// Facts are what the rules know beyond the configuration. A zero field is
// unknown, and the rules that need it say nothing.
type Facts struct {
	// Workload is the kind of the controller that owns the collector's pod:
	// DaemonSet, Deployment, ReplicaSet, StatefulSet, Job or Pod (no owner).
	Workload string
	// TracesPerSecond is the rate of new traces reaching trace-grouping
	// processors (tail_sampling, groupbytrace).
	TracesPerSecond float64
	// GracePeriod is how long the collector gets between the start of its
	// stop and SIGKILL: the pod's terminationGracePeriodSeconds (which the
	// preStop delay spends too) or compose's stop_grace_period.
	GracePeriod time.Duration
	// PreStop is the pod's preStop delay, spent before SIGTERM.
	PreStop time.Duration
	// QueueVolume is the size in bytes of the volume the persistent sending
	// queues write to: the PVC's storage request (a StatefulSet's
	// volumeClaimTemplate) or the tmpfs/volume size.
	QueueVolume int64
}

// Rule is one rule of a tier.
type Rule struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Roles the rule applies to.
	Roles []Role `json:"roles"`
	// Summary says what the rule finds, Why why it matters.
	Summary string `json:"summary"`
	Why     string `json:"why"`
	// Needs names the fact the rule needs ("" for none): workload,
	// traces_per_second, grace_period or queue_volume.
	Needs string `json:"needs,omitempty"`
	check func(c *Config, f Facts) []string
}

func (r Rule) appliesTo(role Role) bool {
	for _, x := range r.Roles {
		if x == role {
			return true
		}
	}
	return false
}

// Finding is one rule that a configuration breaks, at one place.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Check runs every rule of role on c and returns the findings (never nil),
// worst first, then by rule and message.
func Check(c *Config, role Role, f Facts) []Finding {
	out := []Finding{}
	for _, r := range rules {
		if !r.appliesTo(role) {
			continue
		}
		for _, msg := range r.check(c, f) {
			out = append(out, Finding{Rule: r.ID, Severity: r.Severity, Message: msg})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Severity.rank(), out[j].Severity.rank(); a != b {
			return a < b
		}
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// Rules returns every rule, sorted by id.
func Rules() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Count returns the number of findings of each severity (every severity
// present, zero or not).
func Count(findings []Finding) map[Severity]int {
	n := make(map[Severity]int, len(Severities))
	for _, s := range Severities {
		n[s] = 0
	}
	for _, f := range findings {
		n[f.Severity]++
	}
	return n
}
