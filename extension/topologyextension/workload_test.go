package topologyextension

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func owned(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, Controller: &yes}}
}

func cluster() *fake.Clientset {
	return fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "observability", Name: "otel-agent-x7k2p", OwnerReferences: owned("DaemonSet", "otel-agent")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "observability", Name: "otel-agent-5d9f-abcde", OwnerReferences: owned("ReplicaSet", "otel-agent-5d9f")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "observability", Name: "otel-agent-5d9f", OwnerReferences: owned("Deployment", "otel-agent")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "observability", Name: "otel-gateway-0", OwnerReferences: owned("StatefulSet", "otel-gateway")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "observability", Name: "debug"}},
	)
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestPodWorkload(t *testing.T) {
	client := cluster()
	for pod, want := range map[string]string{
		"otel-agent-x7k2p":      "DaemonSet",
		"otel-agent-5d9f-abcde": "Deployment",
		"otel-gateway-0":        "StatefulSet",
		"debug":                 "Pod",
	} {
		got, err := podWorkload(context.Background(), client, "observability", pod)
		require.NoError(t, err)
		assert.Equal(t, want, got, pod)
	}
	_, err := podWorkload(context.Background(), client, "observability", "gone")
	assert.ErrorContains(t, err, "get pod observability/gone")
}

func TestLookupWorkloadOnlyInKubernetes(t *testing.T) {
	called := false
	newClient := func() (kubernetes.Interface, error) { called = true; return cluster(), nil }
	got, err := lookupWorkload(context.Background(), env(nil), newClient)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.False(t, called, "no API call outside Kubernetes")

	_, err = lookupWorkload(context.Background(), env(map[string]string{envServiceHost: "10.96.0.1", envPodName: "x"}), newClient)
	assert.EqualError(t, err, "in Kubernetes, but POD_NAME and POD_NAMESPACE are not both set (give them from the downward API: metadata.name, metadata.namespace)")

	got, err = lookupWorkload(context.Background(), env(map[string]string{envServiceHost: "10.96.0.1", envPodName: "otel-agent-x7k2p", envPodNamespace: "observability"}), newClient)
	require.NoError(t, err)
	assert.Equal(t, "DaemonSet", got)
}

// An agent reading /var/log/pods from a Deployment's pod breaks
// agent-not-daemonset; the same agent in a DaemonSet does not.
func TestAgentOutsideADaemonSetIsFound(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	ctx := context.Background()
	for pod, want := range map[string][]string{
		"otel-agent-5d9f-abcde": {"agent-not-daemonset"},
		"otel-agent-x7k2p":      nil,
	} {
		topo := newTestTopology(t, "agent", "127.0.60.3:13138", 5*time.Second, tel)
		topo.getenv = env(map[string]string{envServiceHost: "10.96.0.1", envPodName: pod, envPodNamespace: "observability"})
		topo.newClient = func() (kubernetes.Interface, error) { return cluster(), nil }
		require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
		require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "agent-not-daemonset", "")))
		_, body := get(t, "http://127.0.60.3:13138/topology")
		require.NoError(t, topo.Shutdown(ctx))
		var st status
		require.NoError(t, json.Unmarshal([]byte(body), &st))
		var rules []string
		for _, f := range st.Findings {
			rules = append(rules, f.Rule)
		}
		assert.Equal(t, want, rules, pod)
		assert.NotEmpty(t, st.Workload)
	}
}

func TestOnlyAgentsLookUpTheirWorkload(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	ctx := context.Background()
	topo := newTestTopology(t, "gateway", "127.0.60.3:13139", 5*time.Second, tel)
	topo.getenv = env(map[string]string{envServiceHost: "10.96.0.1", envPodName: "otel-gateway-0", envPodNamespace: "observability"})
	topo.newClient = func() (kubernetes.Interface, error) {
		t.Error("a gateway asked the Kubernetes API")
		return cluster(), nil
	}
	require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "gateway-without-health-check", "")))
	require.NoError(t, topo.Shutdown(ctx))
	assert.Empty(t, topo.workload)
}
