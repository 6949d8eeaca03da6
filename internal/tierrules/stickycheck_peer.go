package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"net"
	"strconv"
)

// The stickycheck audit's peer server: its authentication, its port, its
// table's memory. (Registered here, one file for the audit's rules.)
func init() {
	rules = append(rules, stickycheckPeerWithoutAuth, stickycheckAuditMemory)
}

// The processor's defaults and table size (processor/stickycheckprocessor:
// defaultMaxTraces, defaultPeerPort, a 32-byte entry × 4/3 slots a trace).
const (
	stickycheckDefaultMaxTraces = 500_000
	stickycheckDefaultPeerPort  = 4319
	stickycheckBytesPerTrace    = 32 * 4 / 3.0
	// The share of memory_limiter's limit the audit table may take (as the
	// processor allows of the container's limit).
	stickycheckMaxTableShare = 0.25
)

var stickycheckPeerWithoutAuth = Rule{
	ID:       "stickycheck-peer-without-auth",
	Severity: SeverityWarning,
	Roles:    []Role{Gateway},
	Summary:  "A gateway's stickycheck audit serves its peer port without authentication (audit::peer::server::auth).",
	Why: "Anyone who reaches the peer port (4319) can then forge reports: inflate traces_split, hide a real split " +
		"with a forged \"counted\" handoff, or wipe the audit's memory with forged traces. Authenticate the peers " +
		"(bearertokenauth with a shared token, as the shipped gateway config does with STICKYCHECK_PEER_TOKEN, or " +
		"mutual TLS) and let a NetworkPolicy admit only gateway pods.",
	check: func(c *Config, _ Facts) []string {
		var out []string
		for _, u := range c.used(TypeStickycheck) {
			audit, on := stickycheckAudit(c.Processors[u.id])
			if !on {
				continue
			}
			server, _ := lookupMap(audit, "peer", "server")
			if _, mtls := lookupMap(server, "tls"); mtls && hasClientCA(server) {
				continue
			}
			auth, _ := lookupMap(server, "auth")
			if name, _ := auth["authenticator"].(string); name != "" {
				continue
			}
			out = append(out, fmt.Sprintf("processor %s: audit::peer::server has no auth (nor mutual TLS): anyone reaching port %d can forge the audit's reports", u.id, stickycheckPeerPort(audit)))
		}
		return out
	},
}

var stickycheckAuditMemory = Rule{
	ID:       "stickycheck-audit-memory",
	Severity: SeverityError,
	Roles:    []Role{Gateway},
	Summary:  "The stickycheck audit table (audit::max_traces × 43 bytes, allocated at start) takes more than a quarter of memory_limiter's limit_mib.",
	Why: "The table is allocated whole at start and never shrinks; what it takes is not left for tail sampling's " +
		"traces and the queues, so memory_limiter refuses data early, or the container is OOM-killed. Size " +
		"max_traces to new traces a second × window. (With limit_percentage the processor checks the container's " +
		"limit itself at start.)",
	check: func(c *Config, _ Facts) []string {
		limitMiB, ok := memoryLimiterMiB(c)
		if !ok {
			return nil
		}
		var out []string
		for _, u := range c.used(TypeStickycheck) {
			audit, on := stickycheckAudit(c.Processors[u.id])
			if !on {
				continue
			}
			n := int64(stickycheckDefaultMaxTraces)
			if v, ok := intOf(audit["max_traces"]); ok {
				n = v
			}
			size := float64(n) * stickycheckBytesPerTrace / (1 << 20)
			if size > stickycheckMaxTableShare*float64(limitMiB) {
				out = append(out, fmt.Sprintf("processor %s: audit::max_traces %d takes %.0f MiB, more than %.0f %% of memory_limiter's limit_mib %d",
					u.id, n, size, stickycheckMaxTableShare*100, limitMiB))
			}
		}
		return out
	},
}

// stickycheckAudit is the audit section of a stickycheck config and whether
// it is on (present, and enabled not false).
func stickycheckAudit(cfg map[string]any) (map[string]any, bool) {
	v, present := cfg["audit"]
	if !present {
		return nil, false
	}
	audit, _ := asMap(v)
	if enabled, ok := boolOf(audit["enabled"]); ok && !enabled {
		return nil, false
	}
	if audit == nil {
		audit = map[string]any{}
	}
	return audit, true
}

func hasClientCA(server map[string]any) bool {
	tls, _ := lookupMap(server, "tls")
	ca, _ := tls["client_ca_file"].(string)
	return ca != ""
}

func stickycheckPeerPort(audit map[string]any) int64 {
	if p, ok := intOf(lookupValue(audit, "peer", "port")); ok {
		return p
	}
	server, _ := lookupMap(audit, "peer", "server")
	if ep, _ := server["endpoint"].(string); ep != "" {
		if _, port, err := net.SplitHostPort(ep); err == nil {
			if p, err := strconv.ParseInt(port, 10, 64); err == nil {
				return p
			}
		}
	}
	return stickycheckDefaultPeerPort
}

func lookupValue(m map[string]any, keys ...string) any {
	for i, k := range keys {
		if i == len(keys)-1 {
			return m[k]
		}
		var ok bool
		if m, ok = asMap(m[k]); !ok {
			return nil
		}
	}
	return nil
}

// memoryLimiterMiB is the smallest limit_mib of the memory_limiter
// processors that pipelines use (false when none sets one).
func memoryLimiterMiB(c *Config) (int64, bool) {
	var best int64
	found := false
	for _, u := range c.used(TypeMemoryLimiter) {
		if v, ok := intOf(c.Processors[u.id]["limit_mib"]); ok && v > 0 && (!found || v < best) {
			best, found = v, true
		}
	}
	return best, found
}
