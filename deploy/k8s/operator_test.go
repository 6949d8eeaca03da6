package k8s_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
)

// operatorModule is the OpenTelemetry Operator release whose CRD the
// OpenTelemetryCollector resource is checked against (a release the module
// proxy serves; the CRD ships in the module).
const operatorModule = "github.com/open-telemetry/opentelemetry-operator@v0.140.0"

// operatorCRD fetches the operator's module through the module proxy, as
// `go mod download` does, and reads its OpenTelemetryCollector CRD.
func operatorCRD(t *testing.T) *manifest.CRD {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", operatorModule)
	cmd.Dir = t.TempDir() // outside any module: nothing is added to go.mod
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go mod download %s: %v\n%s\n%s", operatorModule, err, out, ee.Stderr)
	}
	require.NoError(t, err)
	var mod struct{ Dir, Error string }
	require.NoError(t, json.Unmarshal(out, &mod))
	require.Empty(t, mod.Error)
	b, err := os.ReadFile(filepath.Join(mod.Dir, "config", "crd", "bases", "opentelemetry.io_opentelemetrycollectors.yaml"))
	require.NoError(t, err)
	crd, err := manifest.ParseCRD(b)
	require.NoError(t, err)
	return crd
}

// operatorPod is what the operator runs of the resource: the collector
// container of the StatefulSet <name>-collector.
type operatorPod struct {
	cr         *unstructured.Unstructured
	configText string
	env        map[string]string
	config     *podconfig.Resolved
	pod        podconfig.Pod
}

// operatorCollector reads the config of the operator's collector as its pod
// sees it: spec.config, with spec.env and the variables the operator adds
// itself (POD_NAME; SHARD with the target allocator on;
// internal/manifests/collector/container.go).
func operatorCollector(t *testing.T) operatorPod {
	t.Helper()
	set := render(t, "operator")
	crs := manifest.All[*unstructured.Unstructured](set)
	require.Len(t, crs, 1)
	cr := crs[0]
	cfg, ok, err := unstructured.NestedMap(cr.Object, "spec", "config")
	require.NoError(t, err)
	require.True(t, ok, "spec.config")
	text, err := yaml.Marshal(cfg)
	require.NoError(t, err)

	var env []corev1.EnvVar
	if raw, ok, _ := unstructured.NestedSlice(cr.Object, "spec", "env"); ok {
		for _, e := range raw {
			var ev corev1.EnvVar
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(e.(map[string]any), &ev))
			env = append(env, ev)
		}
	}
	env = append(env,
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "SHARD", Value: "0"},
	)
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "otc-container", Env: env}}}
	pod := podconfig.Pod{
		Name: cr.GetName() + "-collector-0", Namespace: cr.GetNamespace(), NodeName: "node-0",
		PodIP: "10.1.4.11", HostIP: "192.168.0.10", ServiceEnv: kubernetesService,
	}
	vars, err := podconfig.Env(spec, "otc-container", pod, nil)
	require.NoError(t, err)
	resolved, err := podconfig.Resolve(string(text), vars)
	require.NoError(t, err)
	return operatorPod{cr: cr, configText: string(text), env: vars, config: resolved, pod: pod}
}

// The OpenTelemetryCollector resource holds only what the operator's CRD
// declares, with the types and values it allows (the API server's strict
// field validation, without a cluster).
func TestOperatorCollectorFitsTheOperatorsCRD(t *testing.T) {
	set := render(t, "operator")
	require.NoError(t, set.CheckCustom(operatorCRD(t)))
}

// Prometheus scraping at scale: replicas of our image in a StatefulSet share
// the targets through the target allocator, and forward to the gateways.
func TestOperatorCollectorShardsPrometheusTargets(t *testing.T) {
	op := operatorCollector(t)
	spec := func(path ...string) any {
		v, _, err := unstructured.NestedFieldNoCopy(op.cr.Object, append([]string{"spec"}, path...)...)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, "statefulset", spec("mode"))
	assert.GreaterOrEqual(t, spec("replicas"), int64(2), "several replicas to share the targets")
	assert.Equal(t, true, spec("targetAllocator", "enabled"))
	assert.Equal(t, "consistent-hashing", spec("targetAllocator", "allocationStrategy"))
	assert.Equal(t, true, spec("targetAllocator", "prometheusCR", "enabled"), "ServiceMonitors and PodMonitors")

	var prom struct {
		TargetAllocator struct {
			Endpoint    string `mapstructure:"endpoint"`
			CollectorID string `mapstructure:"collector_id"`
		} `mapstructure:"target_allocator"`
	}
	require.NoError(t, op.config.Decode("receivers::prometheus", &prom))
	// The operator's Service for the allocator is <name>-targetallocator.
	assert.Equal(t, "http://"+op.cr.GetName()+"-targetallocator:80", prom.TargetAllocator.Endpoint)
	assert.Equal(t, op.pod.Name, prom.TargetAllocator.CollectorID, "each replica asks for its own targets")
	assert.Empty(t, op.config.Unset)

	var pipeline struct {
		Receivers []string `mapstructure:"receivers"`
		Exporters []string `mapstructure:"exporters"`
	}
	require.NoError(t, op.config.Decode("service::pipelines::metrics", &pipeline))
	assert.Equal(t, []string{"prometheus"}, pipeline.Receivers)
	require.Len(t, pipeline.Exporters, 1)
	gw, err := manifest.Get[*corev1.Service](render(t, "gateway"), gatewayService)
	require.NoError(t, err)
	assert.Equal(t, gw.Name+"."+gw.Namespace+".svc.cluster.local:4317", op.config.Get("exporters::"+pipeline.Exporters[0]+"::endpoint"),
		"metrics go to the gateway Service")
	assert.Equal(t, op.pod.PodIP+":13133", op.config.Get("extensions::health_check::endpoint"), "the operator's probes reach health_check")
}
