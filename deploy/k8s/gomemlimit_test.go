package k8s_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// envValue is the literal value of a variable of a container, or "".
func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// wantGOGC is the GOGC a shipped collector must have: manifest.GatewayGOGC
// on gateways, the Go default (unset) elsewhere.
func wantGOGC(gateway bool) string {
	if gateway {
		return manifest.GatewayGOGC
	}
	return ""
}

// Every collector of every overlay sets GOMEMLIMIT to 80 % of its
// container's memory limit (manifest.GoMemLimit), and GOGC as wantGOGC says,
// the operator's collector too: a limit changed without
// its GOMEMLIMIT fails here.
func TestGoMemLimitFollowsTheMemoryLimitInEveryOverlay(t *testing.T) {
	checked := 0
	for _, o := range overlays(t) {
		set := render(t, o)
		for _, w := range workloads(set) {
			c := container(t, w)
			limit := c.Resources.Limits.Memory()
			require.False(t, limit.IsZero(), "%s: %s %s has a memory limit", o, w.Kind, w.Name)
			assert.Equal(t, manifest.GoMemLimit(limit.Value()), envValue(c.Env, "GOMEMLIMIT"),
				"%s: %s %s: GOMEMLIMIT at 80 %% of the %s limit", o, w.Kind, w.Name, limit)
			assert.Equal(t, wantGOGC(w.Name == "otel-gateway"), envValue(c.Env, "GOGC"), "%s: %s %s: GOGC", o, w.Kind, w.Name)
			checked++
		}
		for _, cr := range manifest.All[*unstructured.Unstructured](set) {
			s, ok, err := unstructured.NestedString(cr.Object, "spec", "resources", "limits", "memory")
			require.NoError(t, err)
			require.True(t, ok, "%s: %s has a memory limit", o, cr.GetName())
			env, _, err := unstructured.NestedSlice(cr.Object, "spec", "env")
			require.NoError(t, err)
			got := ""
			for _, e := range env {
				if m := e.(map[string]any); m["name"] == "GOMEMLIMIT" {
					got, _ = m["value"].(string)
				}
			}
			q := resource.MustParse(s)
			assert.Equal(t, manifest.GoMemLimit(q.Value()), got, "%s: %s: GOMEMLIMIT at 80 %% of the %s limit", o, cr.GetName(), s)
			checked++
		}
	}
	assert.Equal(t, 8, checked, "agent (agent, hybrid, hybrid-dns), gateway (gateway, hybrid, hybrid-dns), sidecar, the operator's collector")
}

// dockerBytes reads a compose memory size as docker does (1024-based
// b/k/m/g suffixes).
func dockerBytes(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)([bkmg]?)b?$`).FindStringSubmatch(strings.ToLower(s))
	require.NotNil(t, m, "memory size %q", s)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n << map[string]int{"": 0, "b": 0, "k": 10, "m": 20, "g": 30}[m[2]]
}

// Compose: every service of our image has a memory limit, and GOMEMLIMIT
// (80 %) and GOGC as wantGOGC says.
func TestGoMemLimitFollowsTheMemoryLimitInCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image       string            `json:"image"`
			MemLimit    string            `json:"mem_limit"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readFile(t, repoRoot+"/deploy/compose/docker-compose.yaml")), &compose))
	var ours []string
	for name, svc := range compose.Services {
		if !strings.Contains(svc.Image, "${OTELCOL_TIERED_") { // the all-in-one or a tier image
			continue
		}
		ours = append(ours, name)
		require.NotEmpty(t, svc.MemLimit, "%s: mem_limit", name)
		assert.Equal(t, manifest.GoMemLimit(dockerBytes(t, svc.MemLimit)), svc.Environment["GOMEMLIMIT"],
			"%s: GOMEMLIMIT at 80 %% of mem_limit %s", name, svc.MemLimit)
		assert.Equal(t, wantGOGC(name == "gateway"), svc.Environment["GOGC"], "%s: GOGC", name)
	}
	assert.ElementsMatch(t, []string{"sink", "gateway", "agent"}, ours, "the collectors of the compose topology")
}
