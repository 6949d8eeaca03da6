package k8s_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/otlpexporter"

	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// podCase is a collector config and the environment its pod gives it.
type podCase struct {
	name string
	text string
	env  map[string]string
	role string // the tier, for tiercheck ("" when it plays none)
	kind string // the workload that runs it
	view *podconfig.Resolved
}

// podCases are the configs of every collector the overlays deploy, each with
// its pod's environment: the tiers of the hybrid, hybrid-dns and sidecar
// overlays, and the operator's collector.
func podCases(t *testing.T) []podCase {
	t.Helper()
	var out []podCase
	for _, o := range []string{"hybrid", "hybrid-dns", "sidecar"} {
		set := render(t, o)
		for _, w := range workloads(set) {
			v := w.view(t, set, 0)
			out = append(out, podCase{name: o + "/" + w.Tier, text: v.ConfigText, env: v.Env, role: w.Tier, kind: w.Kind, view: v.Config})
		}
	}
	op := operatorCollector(t)
	out = append(out, podCase{name: "operator/otel-prometheus", text: op.configText, env: op.env, view: op.config})
	return out
}

// mustPrint are the values the manifest tests assert on: the binary's
// config must hold each one ours holds. (Its printout drops some values it
// does not marshal back, e.g. tail sampling's policy names: those are not
// compared.)
var mustPrint = []string{
	"/exporters/load_balancing/routing_key",
	"/exporters/load_balancing/resolver",
	"/processors/stickycheck/self",
	"/processors/stickycheck/resolver",
	"/processors/tail_sampling/decision_wait",
	"/extensions/health_check/endpoint",
	"/extensions/file_storage/directory",
	"/receivers/otlp/protocols/grpc/endpoint",
	"/receivers/otlp/protocols/http/endpoint",
	"/processors/k8s_attributes/passthrough",
	"/processors/k8s_attributes/filter/node",
	"/receivers/kubelet_stats/endpoint",
	"/receivers/kubelet_stats/auth_type",
	"/receivers/file_log/include",
	"/receivers/file_log/exclude",
	"/receivers/prometheus/target_allocator/collector_id",
	"/receivers/prometheus/target_allocator/endpoint",
	"/processors/memory_limiter/limit_mib",
	"/processors/memory_limiter/limit_percentage",
	"/processors/memory_limiter/spike_limit_percentage",
}

// The built collector, given each config and its pod's environment, accepts
// it (print-config validates) and holds the values our resolution gives:
// the assertions on the resolved configs hold for the real binary.
func TestConfigsAsPodsSeeThemAgreeWithTheBinary(t *testing.T) {
	bin := testbed.Binary(t)
	for _, pc := range podCases(t) {
		t.Run(pc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(file, []byte(pc.text), 0o600))
			cmd := exec.Command(bin, "print-config", "--mode=unredacted", "--format=json", "--config="+file)
			cmd.Env = envList(pc.env)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "otelcol-tiered print-config: %s", stderr.String())
			var printed map[string]any
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &printed))
			ours := map[string]any{}
			b, err := json.Marshal(pc.view.ToStringMap())
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &ours))
			var c comparison
			c.walk(ours, printed, "")
			for _, d := range c.differ {
				t.Error(d)
			}
			checked := 0
			for _, p := range mustPrint {
				if c.compared[p] {
					checked++
				} else if _, ours := lookup(ours, p); ours {
					t.Errorf("%s: not in the binary's printed config", p)
				}
			}
			require.Positive(t, checked, "values compared")
			for _, id := range []string{"otlp_grpc/backend", "otlp_grpc/gateway"} {
				if !pc.view.IsSet("exporters::" + id) {
					continue
				}
				cfg, err := pc.view.Component("exporters::"+id, otlpexporter.NewFactory())
				require.NoError(t, err)
				got, ok := lookupKeys(printed, "exporters", id, "timeout")
				require.True(t, ok)
				assert.Equal(t, float64(cfg.(*otlpexporter.Config).TimeoutConfig.Timeout), got, "%s timeout", id)
			}
		})
	}
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func lookup(m any, path string) (any, bool) {
	return lookupKeys(m, strings.Split(strings.TrimPrefix(path, "/"), "/")...)
}

func lookupKeys(m any, keys ...string) (any, bool) {
	cur := m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// comparison walks our resolved config against the binary's printout (which
// adds every default): a value both hold must be equal, durations by value
// (the binary prints nanoseconds), numbers as numbers. compared records the
// paths found in both.
type comparison struct {
	differ   []string
	compared map[string]bool
}

func (c *comparison) walk(ours, printed any, path string) {
	if c.compared == nil {
		c.compared = map[string]bool{}
	}
	if ours == nil {
		return // a default
	}
	c.compared[path] = true
	switch o := ours.(type) {
	case map[string]any:
		p, ok := printed.(map[string]any)
		if !ok && printed == nil && o["enabled"] == false {
			return // a configoptional section switched off prints as null
		}
		if !ok {
			c.differ = append(c.differ, fmt.Sprintf("%s: ours is a map, the binary's %v", path, printed))
			return
		}
		for k, v := range o {
			if pv, ok := p[k]; ok {
				c.walk(v, pv, path+"/"+k)
			}
		}
	case []any:
		p, ok := printed.([]any)
		if !ok || len(p) != len(o) {
			c.differ = append(c.differ, fmt.Sprintf("%s: ours %v, the binary's %v", path, ours, printed))
			return
		}
		for i := range o {
			c.walk(o[i], p[i], fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if m, ok := printed.(map[string]any); ok && len(m) == 0 {
			return // a value print-config cannot show: exporterhelper's sizer (unexported fields) prints as {}
		}
		if !sameValue(ours, printed) {
			c.differ = append(c.differ, fmt.Sprintf("%s: ours %v (%T), the binary's %v (%T)", path, ours, ours, printed, printed))
		}
	}
}

func sameValue(ours, printed any) bool {
	if fmt.Sprint(ours) == fmt.Sprint(printed) {
		return true
	}
	s, ok := ours.(string)
	if !ok {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return false
	}
	switch p := printed.(type) {
	case float64:
		return time.Duration(p) == d
	case string:
		pd, err := time.ParseDuration(p)
		return err == nil && pd == d
	}
	return false
}
