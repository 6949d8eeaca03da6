package topologyextension

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

func owned(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, Controller: &yes}}
}

// cluster is an API server on loopback that serves a few objects as the
// real one does (JSON, at their API paths; a Status for anything else), read
// by the extension's own client.
func cluster(t *testing.T) ownerReader {
	t.Helper()
	objects := map[string]any{
		"/api/v1/namespaces/observability/pods/otel-agent-x7k2p":             pod("Pod", "otel-agent-x7k2p", owned("DaemonSet", "otel-agent")),
		"/api/v1/namespaces/observability/pods/otel-agent-5d9f-abcde":        pod("Pod", "otel-agent-5d9f-abcde", owned("ReplicaSet", "otel-agent-5d9f")),
		"/apis/apps/v1/namespaces/observability/replicasets/otel-agent-5d9f": pod("ReplicaSet", "otel-agent-5d9f", owned("Deployment", "otel-agent")),
		"/api/v1/namespaces/observability/pods/otel-gateway-0":               pod("Pod", "otel-gateway-0", owned("StatefulSet", "otel-gateway")),
		"/api/v1/namespaces/observability/pods/debug":                        pod("Pod", "debug", nil),
		"/api/v1/namespaces/observability/pods/otel-agent-rs-only":           pod("Pod", "otel-agent-rs-only", owned("ReplicaSet", "forbidden-rs")),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer test-token", r.Header.Get("Authorization"), "the config's credentials")
		w.Header().Set("Content-Type", "application/json")
		obj, ok := objects[r.URL.Path]
		if !ok {
			code, reason := http.StatusNotFound, "NotFound"
			if r.URL.Path == "/apis/apps/v1/namespaces/observability/replicasets/forbidden-rs" {
				code, reason = http.StatusForbidden, "Forbidden"
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(metav1.Status{Status: "Failure", Reason: metav1.StatusReason(reason), Code: int32(code), Message: r.URL.Path + " " + reason})
			return
		}
		_ = json.NewEncoder(w).Encode(obj)
	}))
	t.Cleanup(srv.Close)
	c, err := newAPIOwners(&rest.Config{Host: srv.URL, BearerToken: "test-token"})
	require.NoError(t, err)
	return c
}

func pod(kind, name string, owners []metav1.OwnerReference) map[string]any {
	return map[string]any{
		"kind": kind, "apiVersion": "v1",
		"metadata": metav1.ObjectMeta{Namespace: "observability", Name: name, OwnerReferences: owners},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "otelcol"}}},
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestPodWorkload(t *testing.T) {
	client := cluster(t)
	for pod, want := range map[string]string{
		"otel-agent-x7k2p":      "DaemonSet",
		"otel-agent-5d9f-abcde": "Deployment",
		"otel-gateway-0":        "StatefulSet",
		"debug":                 "Pod",
		// No right to read ReplicaSets: the kind known, still not a DaemonSet.
		"otel-agent-rs-only": "ReplicaSet",
	} {
		got, err := podWorkload(context.Background(), client, "observability", pod)
		require.NoError(t, err)
		assert.Equal(t, want, got, pod)
	}
	_, err := podWorkload(context.Background(), client, "observability", "gone")
	assert.ErrorContains(t, err, "get pod observability/gone: 404 Not Found: /api/v1/namespaces/observability/pods/gone NotFound", "the API server's message")
}

func TestLookupWorkloadOnlyInKubernetes(t *testing.T) {
	called := false
	client := cluster(t)
	newClient := func() (ownerReader, error) { called = true; return client, nil }
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
		client := cluster(t)
		topo.newClient = func() (ownerReader, error) { return client, nil }
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
	topo.newClient = func() (ownerReader, error) {
		t.Error("a gateway asked the Kubernetes API")
		return cluster(t), nil
	}
	require.NoError(t, topo.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, topo.NotifyConfigSnapshot(ctx, snapshot(t, "gateway-without-health-check", "")))
	require.NoError(t, topo.Shutdown(ctx))
	assert.Empty(t, topo.workload)
}
