package k8s_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
)

// The seed's sizing tables ("Resource Sizing Guidelines") are
// sizing.DefaultTables; its storage table is not there: "Short buffer (<1h)"
// is 5-10 GB.
var seedShortBufferMin, seedShortBufferMax = resource.MustParse("5G"), resource.MustParse("10G")

// seedRow returns the row of a tier's table by name.
func seedRow(t *testing.T, tierName, name string) sizing.Row {
	t.Helper()
	for _, r := range sizing.DefaultTables[tierName] {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("the seed's %s table has no row %q", tierName, name)
	return sizing.Row{}
}

func rowResources(r sizing.Row) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(r.CPURequest), corev1.ResourceMemory: resource.MustParse(r.MemoryRequest)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(r.CPULimit), corev1.ResourceMemory: resource.MustParse(r.MemoryLimit)},
	}
}

func assertResources(t *testing.T, want sizing.Row, got corev1.ResourceRequirements, what string) {
	t.Helper()
	w := rowResources(want)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		wr, gr := w.Requests[name], got.Requests[name]
		wl, gl := w.Limits[name], got.Limits[name]
		assert.Zero(t, wr.Cmp(gr), "%s: %s request %s, the seed's %q row says %s", what, name, gr.String(), want.Name, wr.String())
		assert.Zero(t, wl.Cmp(gl), "%s: %s limit %s, the seed's %q row says %s", what, name, gl.String(), want.Name, wl.String())
	}
	assert.Len(t, got.Requests, 2, "%s: requests", what)
	assert.Len(t, got.Limits, 2, "%s: limits", what)
}

func TestResourcesFollowTheSeedsTables(t *testing.T) {
	for o, w := range tier(t, "agent") {
		assertResources(t, seedRow(t, "agent", "Medium"), container(t, w).Resources, o+": agent (the issue's Medium row)")
	}
	for o, w := range tier(t, "sidecar") {
		assertResources(t, seedRow(t, "sidecar", "sidecar"), container(t, w).Resources, o+": sidecar")
	}
	for o, w := range tier(t, "gateway") {
		set := render(t, o)
		ss := statefulSet(t, set, w)
		// The row of the gateway's replica count.
		var row *sizing.Row
		for _, r := range sizing.DefaultTables["gateway"] {
			if r.Replicas == int(*ss.Spec.Replicas) {
				row = &r
			}
		}
		assertResources(t, *row, container(t, w).Resources, o+": gateway")
		for _, claim := range ss.Spec.VolumeClaimTemplates {
			size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
			assert.True(t, size.Cmp(seedShortBufferMin) >= 0 && size.Cmp(seedShortBufferMax) <= 0,
				"%s: queue volume %s, the seed's short buffer is 5-10 GB", o, size.String())
		}
	}

	// The operator's collectors: the seed's smallest gateway row.
	set := render(t, "operator")
	cr := manifest.All[*unstructured.Unstructured](set)[0]
	raw, ok, err := unstructured.NestedMap(cr.Object, "spec", "resources")
	require.NoError(t, err)
	require.True(t, ok, "spec.resources")
	var res corev1.ResourceRequirements
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &res))
	assertResources(t, seedRow(t, "gateway", "<1k RPS"), res, "operator collector")
}

// memory_limiter gives up before the kernel does: its hard limit is below
// each container's memory limit.
func TestMemoryLimiterStaysBelowTheContainerLimit(t *testing.T) {
	for _, tierName := range []string{"agent", "gateway", "sidecar"} {
		for o, w := range tier(t, tierName) {
			v := w.view(t, render(t, o), 0)
			var ml struct {
				LimitMiB        int64 `mapstructure:"limit_mib"`
				LimitPercentage int64 `mapstructure:"limit_percentage"`
			}
			require.NoError(t, v.Config.Decode("processors::memory_limiter", &ml))
			limit := container(t, w).Resources.Limits.Memory().Value()
			require.Positive(t, limit, "%s/%s: a memory limit", o, tierName)
			hard := limit * ml.LimitPercentage / 100
			if ml.LimitMiB > 0 {
				hard = ml.LimitMiB << 20
			}
			assert.Positive(t, hard, "%s/%s: memory_limiter sets a limit", o, tierName)
			assert.Less(t, hard, limit, "%s/%s: memory_limiter's limit below the container's", o, tierName)
		}
	}
}
