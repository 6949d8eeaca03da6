package k8s_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// The monitoring component (deploy/k8s/components/monitoring) added to a
// kustomization of its own, as an overlay would add it, rendered with the
// kustomize Go API and decoded strictly: the PrometheusRule holds the rules
// file's groups, the dashboard's ConfigMap the dashboard under the Grafana
// sidecar's label, and the PodMonitor scrapes the agents' and gateways' pods
// on the port their containers name metrics.
func TestMonitoringComponentRenders(t *testing.T) {
	component, err := filepath.Abs(filepath.Join("components", "monitoring"))
	require.NoError(t, err)
	dir := t.TempDir()
	// kustomize takes no absolute path to a component.
	component, err = filepath.Rel(dir, component)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: "+namespace+
			"\ncomponents:\n  - "+component+"\n"), 0o644))
	docs, err := manifest.Render(dir)
	require.NoError(t, err)
	set, err := manifest.Decode(docs)
	require.NoError(t, err)

	var kinds []string
	for _, o := range set.Objects {
		kinds = append(kinds, o.String())
	}
	assert.ElementsMatch(t, []string{
		"ConfigMap " + namespace + "/otelcol-tiered-dashboard",
		"PrometheusRule " + namespace + "/otelcol-tiered",
		"PodMonitor " + namespace + "/otelcol-tiered",
	}, kinds)

	// The rule's groups are the rules file's.
	var rules map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(readFile(t, filepath.Join(repoRoot, "deploy", "monitoring", "otelcol-tiered.rules.yaml"))), &rules))
	var rule, monitor *unstructured.Unstructured
	for _, u := range manifest.All[*unstructured.Unstructured](set) {
		switch u.GetKind() {
		case "PrometheusRule":
			rule = u
		case "PodMonitor":
			monitor = u
		}
	}
	require.NotNil(t, rule)
	assert.Equal(t, "monitoring.coreos.com/v1", rule.GetAPIVersion())
	spec, _, _ := unstructured.NestedMap(rule.Object, "spec")
	ruleJSON, err := yaml.Marshal(spec)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, yaml.Unmarshal(ruleJSON, &got))
	assert.Equal(t, rules, got, "the PrometheusRule's spec against deploy/monitoring/otelcol-tiered.rules.yaml")

	// The dashboard, byte for byte, under the sidecar's label and one name.
	cm, err := manifest.Get[*corev1.ConfigMap](set, "otelcol-tiered-dashboard")
	require.NoError(t, err)
	assert.Equal(t, "1", cm.Labels["grafana_dashboard"])
	assert.Equal(t, readFile(t, filepath.Join(repoRoot, "deploy", "monitoring", "otelcol-tiered-dashboard.json")), cm.Data["otelcol-tiered.json"])

	// The PodMonitor selects the agents' and the gateways' pods, on the
	// port their collector container names metrics.
	require.NotNil(t, monitor)
	selMap, _, _ := unstructured.NestedMap(monitor.Object, "spec", "selector")
	var labelSel metav1.LabelSelector
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(selMap, &labelSel))
	sel, err := metav1.LabelSelectorAsSelector(&labelSel)
	require.NoError(t, err)
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "podMetricsEndpoints")
	require.Len(t, endpoints, 1)
	port := endpoints[0].(map[string]any)["port"]
	for _, tierName := range []string{"agent", "gateway"} {
		for o, w := range tier(t, tierName) {
			assert.True(t, sel.Matches(labels.Set(w.Meta.Labels)), "%s/%s: the PodMonitor does not select the pods (labels %v)", o, tierName, w.Meta.Labels)
			c := container(t, w)
			var named bool
			for _, p := range c.Ports {
				named = named || (p.Name == port && p.ContainerPort == 8888)
			}
			assert.True(t, named, "%s/%s: no container port %v (8888)", o, tierName, port)
		}
	}
	// Not the application's pod that carries a sidecar.
	for _, w := range tier(t, "sidecar") {
		assert.False(t, sel.Matches(labels.Set(w.Meta.Labels)), "the PodMonitor selects the application's pod %s", w.Name)
	}
}
