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
)

// sizingRow is a row of the seed's "Resource Sizing Guidelines"
// (collector-architecture.md).
type sizingRow struct {
	name                           string
	cpuReq, memReq, cpuLim, memLim string
	replicas                       int32
}

var (
	seedAgentRows = []sizingRow{
		{name: "Low (dev)", cpuReq: "100m", memReq: "128Mi", cpuLim: "200m", memLim: "256Mi"},
		{name: "Medium", cpuReq: "200m", memReq: "256Mi", cpuLim: "500m", memLim: "512Mi"},
		{name: "High (prod)", cpuReq: "500m", memReq: "512Mi", cpuLim: "1000m", memLim: "1Gi"},
	}
	seedGatewayRows = []sizingRow{
		{name: "<1k RPS", cpuReq: "500m", memReq: "1Gi", cpuLim: "1000m", memLim: "2Gi", replicas: 2},
		{name: "1-10k RPS", cpuReq: "1000m", memReq: "2Gi", cpuLim: "2000m", memLim: "4Gi", replicas: 3},
		{name: "10-50k RPS", cpuReq: "2000m", memReq: "4Gi", cpuLim: "4000m", memLim: "8Gi", replicas: 5},
		{name: ">50k RPS", cpuReq: "4000m", memReq: "8Gi", cpuLim: "8000m", memLim: "16Gi", replicas: 10},
	}
	seedSidecar = sizingRow{name: "sidecar", cpuReq: "50m", memReq: "64Mi", cpuLim: "200m", memLim: "256Mi"}
	// "Short buffer (<1h)": 5-10 GB.
	seedShortBufferMin, seedShortBufferMax = resource.MustParse("5G"), resource.MustParse("10G")
)

func (r sizingRow) resources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(r.cpuReq), corev1.ResourceMemory: resource.MustParse(r.memReq)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(r.cpuLim), corev1.ResourceMemory: resource.MustParse(r.memLim)},
	}
}

func assertResources(t *testing.T, want sizingRow, got corev1.ResourceRequirements, what string) {
	t.Helper()
	w := want.resources()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		wr, gr := w.Requests[name], got.Requests[name]
		wl, gl := w.Limits[name], got.Limits[name]
		assert.Zero(t, wr.Cmp(gr), "%s: %s request %s, the seed's %q row says %s", what, name, gr.String(), want.name, wr.String())
		assert.Zero(t, wl.Cmp(gl), "%s: %s limit %s, the seed's %q row says %s", what, name, gl.String(), want.name, wl.String())
	}
	assert.Len(t, got.Requests, 2, "%s: requests", what)
	assert.Len(t, got.Limits, 2, "%s: limits", what)
}

func TestResourcesFollowTheSeedsTables(t *testing.T) {
	for o, w := range tier(t, "agent") {
		assertResources(t, seedAgentRows[1], container(t, w).Resources, o+": agent (the issue's Medium row)")
	}
	for o, w := range tier(t, "sidecar") {
		assertResources(t, seedSidecar, container(t, w).Resources, o+": sidecar")
	}
	for o, w := range tier(t, "gateway") {
		set := render(t, o)
		ss := statefulSet(t, set, w)
		// The row of the gateway's replica count.
		var row *sizingRow
		for i := range seedGatewayRows {
			if seedGatewayRows[i].replicas == *ss.Spec.Replicas {
				row = &seedGatewayRows[i]
			}
		}
		require.NotNil(t, row, "%s: no gateway row of the seed has %d replicas", o, *ss.Spec.Replicas)
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
	assertResources(t, seedGatewayRows[0], res, "operator collector")
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
