package k8s_test

import (
	"context"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-tiered/otelcol-tiered/internal/helmchart"
	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// The Helm values of deploy/helm, rendered with the real upstream chart
// (helmchart.Locate: $OTELCOL_TIERED_HELM_CHART, the shared copy beside the
// repository, or a pull), as `helm install -n observability` would: release
// otel-agent with values-agent.yaml, otel-gateway with values-gateway.yaml.
// Their objects meet the kustomize overlays' checks.

var helmReleases = map[string]string{"agent": "otel-agent", "gateway": "otel-gateway"}

// helmHeadless is the gateway release's Service: the chart's one Service,
// made headless.
const helmHeadless = "otel-gateway"

var (
	helmMu       sync.Mutex
	helmRendered = map[string]*manifest.Set{}
)

func helmRender(t *testing.T, tierName string, cluster dynamic.Interface) *manifest.Set {
	t.Helper()
	c, path, err := helmchart.Locate(repoRoot, filepath.Join(repoRoot, "build", "charts"))
	require.NoError(t, err, "the upstream chart (set %s to its directory)", helmchart.EnvChart)
	t.Logf("chart %s", path)
	var provider engine.ClientProvider // nil: helm template's, no cluster
	if cluster != nil {
		provider = &fakeProvider{cluster}
	}
	values := filepath.Join(repoRoot, "deploy", "helm", "values-"+tierName+".yaml")
	docs, err := helmchart.Render(c, helmReleases[tierName], namespace, provider, values)
	require.NoError(t, err, "%s renders with the chart", values)
	set, err := manifest.Decode(docs)
	require.NoError(t, err, "%s: the rendered objects decode strictly", values)
	return set
}

// helmSet is a release's objects (rendered once per test binary).
func helmSet(t *testing.T, tierName string) *manifest.Set {
	t.Helper()
	helmMu.Lock()
	defer helmMu.Unlock()
	if s, ok := helmRendered[tierName]; ok {
		return s
	}
	s := helmRender(t, tierName, nil)
	helmRendered[tierName] = s
	return s
}

// helmCluster is both releases in one namespace.
func helmCluster(t *testing.T) *manifest.Set {
	t.Helper()
	return &manifest.Set{Objects: append(append([]manifest.Object{}, helmSet(t, "agent").Objects...), helmSet(t, "gateway").Objects...)}
}

// secretsOf are the Secrets of a set, decoded.
func secretsOf(set *manifest.Set) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range manifest.All[*corev1.Secret](set) {
		out[s.Name] = map[string]string{}
		for k, v := range s.Data {
			out[s.Name][k] = string(v)
		}
		for k, v := range s.StringData {
			out[s.Name][k] = v
		}
	}
	return out
}

// helmWorkload is the collector a release runs, as the kustomize tests see
// workloads (the chart's component label is its own: the tier is the
// release's).
func helmWorkload(t *testing.T, tierName string) workload {
	t.Helper()
	set := helmSet(t, tierName)
	ws := workloads(set)
	require.Len(t, ws, 1, "release %s runs one collector of our image", helmReleases[tierName])
	w := ws[0]
	w.Tier = tierName
	w.Secrets = secretsOf(set)
	return w
}

func kindsOf(set *manifest.Set) []string {
	var out []string
	for _, o := range set.Objects {
		out = append(out, o.String())
	}
	sort.Strings(out)
	return out
}

func TestHelmValuesRenderWithTheChart(t *testing.T) {
	assert.Equal(t, []string{
		"ClusterRole otel-agent", "ClusterRoleBinding otel-agent",
		"ConfigMap observability/otel-agent-agent", "DaemonSet observability/otel-agent-agent",
		"NetworkPolicy observability/otel-agent", "Role observability/otel-agent-resolver",
		"RoleBinding observability/otel-agent-resolver", "ServiceAccount observability/otel-agent",
	}, kindsOf(helmSet(t, "agent")))
	assert.Equal(t, []string{
		"ConfigMap observability/otel-gateway-statefulset", "NetworkPolicy observability/otel-gateway",
		"PodDisruptionBudget observability/otel-gateway", "Role observability/otel-gateway",
		"RoleBinding observability/otel-gateway", "Secret observability/otel-gateway-peer-token",
		"Service observability/otel-gateway", "ServiceAccount observability/otel-gateway",
		"StatefulSet observability/otel-gateway",
	}, kindsOf(helmSet(t, "gateway")))

	version := imageVersion(t)
	for tierName := range helmReleases {
		w := helmWorkload(t, tierName)
		c := container(t, w)
		assert.Equal(t, "otelcol-tiered-"+tierName+":"+version, c.Image, "%s: its tier's image", tierName)
		assert.Equal(t, []string{"/otelcol-tiered"}, c.Command, "%s: the image's entrypoint (command.name)", tierName)
	}
	ds, err := manifest.Get[*appsv1.DaemonSet](helmSet(t, "agent"), "otel-agent-agent")
	require.NoError(t, err)
	assert.NotNil(t, ds, "the agent as a DaemonSet")
	ss, err := manifest.Get[*appsv1.StatefulSet](helmSet(t, "gateway"), "otel-gateway")
	require.NoError(t, err)
	assert.Equal(t, helmHeadless, ss.Spec.ServiceName, "the headless Service governs the StatefulSet")
	assert.Equal(t, int32(3), *ss.Spec.Replicas)
}

// configs/ stays the one source: the config each release's pod reads is
// configs/<tier>.yaml (the chart writes alternateConfig back as YAML: the
// same document, not the same bytes).
func TestHelmConfigsAreTheTierConfigs(t *testing.T) {
	for tierName := range helmReleases {
		w := helmWorkload(t, tierName)
		v := w.view(t, helmSet(t, tierName), 0)
		var got, want map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(v.ConfigText), &got))
		require.NoError(t, yaml.Unmarshal([]byte(readFile(t, filepath.Join(repoRoot, "configs", tierName+".yaml"))), &want))
		assert.Equal(t, want, got, "%s: the config at %s", tierName, v.ConfigPath)
		assert.Empty(t, v.Config.Unset, "%s: every variable the config reads is set", tierName)
	}
}

func TestHelmHeadlessServiceAndRing(t *testing.T) {
	cluster := helmCluster(t)
	gw, agent := helmWorkload(t, "gateway"), helmWorkload(t, "agent")
	svc, err := manifest.Get[*corev1.Service](cluster, helmHeadless)
	require.NoError(t, err)
	assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP, "headless")
	assert.True(t, selects(t, svc.Spec.Selector, gw), "selects the gateways")
	assert.False(t, selects(t, svc.Spec.Selector, agent), "and not the agents")
	ports := map[int32]bool{}
	for _, p := range svc.Spec.Ports {
		ports[p.Port] = true
	}
	assert.True(t, ports[4317] && ports[stickycheckPeerPort], "OTLP gRPC and the peer port")
	require.Len(t, manifest.All[*corev1.Service](cluster), 1, "the agents have no Service")

	// The agents' resolver names it; every gateway's self is its pod IP,
	// and the members are the replicas as each names itself.
	assertTracesRouteOverRing(t, agent.view(t, cluster, 0), cluster, helmHeadless)
	assertGatewayRing(t, cluster, gw, helmHeadless)
}

func TestHelmRBACIsWhatTheComponentsNeed(t *testing.T) {
	cluster := helmCluster(t)
	for tierName := range helmReleases {
		t.Run(tierName, func(t *testing.T) { assertRBAC(t, cluster, helmWorkload(t, tierName)) })
	}
}

// The queue on the claim, GOMEMLIMIT by the chart at 80 % of the limit (and
// the gateway's GOGC), the
// sizing of the kustomize tiers, a PDB of one.
func TestHelmGatewayQueueSizingAndGoMemLimit(t *testing.T) {
	for tierName, row := range map[string]string{"agent": "Medium", "gateway": "1-10k RPS"} {
		w := helmWorkload(t, tierName)
		c := container(t, w)
		assertResources(t, seedRow(t, tierName, row), c.Resources, "helm "+tierName)
		assert.Equal(t, manifest.GoMemLimit(c.Resources.Limits.Memory().Value()), envValue(c.Env, "GOMEMLIMIT"), "%s: GOMEMLIMIT", tierName)
		assert.Equal(t, wantGOGC(tierName == "gateway"), envValue(c.Env, "GOGC"), "%s: GOGC", tierName)
	}
	set := helmSet(t, "gateway")
	w := helmWorkload(t, "gateway")
	v := w.view(t, set, 0)
	ss := statefulSet(t, set, w)
	require.Len(t, ss.Spec.VolumeClaimTemplates, 1)
	claim := ss.Spec.VolumeClaimTemplates[0].Name
	dir, ok := v.Config.Get("extensions::file_storage::directory").(string)
	require.True(t, ok)
	mounted := false
	for _, m := range container(t, w).VolumeMounts {
		mounted = mounted || (m.Name == claim && m.MountPath == dir && !m.ReadOnly)
	}
	assert.True(t, mounted, "file_storage's %s is the claim %s", dir, claim)
	require.NotNil(t, ss.Spec.Template.Spec.SecurityContext.FSGroup)
	assert.Equal(t, int64(10001), *ss.Spec.Template.Spec.SecurityContext.FSGroup, "writable by the collector's user")
	pdbs := manifest.All[*policyv1.PodDisruptionBudget](set)
	require.Len(t, pdbs, 1)
	assert.Equal(t, int32(1), pdbs[0].Spec.MaxUnavailable.IntVal)
	assert.True(t, selects(t, pdbs[0].Spec.Selector.MatchLabels, w))
}

func TestHelmPeerTokenAndNetworkPolicies(t *testing.T) {
	cluster := helmCluster(t)
	gw, agent := helmWorkload(t, "gateway"), helmWorkload(t, "agent")
	token := gw.Secrets[peerTokenSecret][peerTokenKey]
	assert.Len(t, token, 48, "a token of 48 random characters, made at install")
	assert.True(t, assertPeerToken(t, cluster, gw, token), "the gateways read it")
	assert.False(t, assertPeerToken(t, cluster, agent, token), "the agents have no peer server")
	secret, err := manifest.Get[*corev1.Secret](cluster, peerTokenSecret)
	require.NoError(t, err)
	assert.Equal(t, "keep", secret.Annotations["helm.sh/resource-policy"], "uninstalling leaves the token")

	assertGatewayPolicy(t, cluster, gw, agent, tier(t, "sidecar")["sidecar"])
	assertAgentPolicy(t, cluster, agent, tier(t, "sidecar")["sidecar"])
}

// An existing Secret keeps its token: a second render (an upgrade, or a
// Secret the user made and Helm adopted) looks it up through the cluster.
func TestHelmPeerTokenIsKeptWhenTheSecretExists(t *testing.T) {
	supplied := "user-supplied-token-0123456789"
	existing := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: peerTokenSecret, Namespace: namespace},
		Data:       map[string][]byte{peerTokenKey: []byte(supplied)},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(existing)
	require.NoError(t, err)
	client := dynamicfake.NewSimpleDynamicClient(scheme.Scheme)
	_, err = client.Resource(secretsGVR).Namespace(namespace).Create(context.Background(), &unstructured.Unstructured{Object: u}, metav1.CreateOptions{})
	require.NoError(t, err)
	set := helmRender(t, "gateway", client)
	assert.Equal(t, supplied, secretsOf(set)[peerTokenSecret][peerTokenKey])

	// Without it, every install makes its own.
	a, b := secretsOf(helmRender(t, "gateway", nil)), secretsOf(helmRender(t, "gateway", nil))
	assert.NotEqual(t, a[peerTokenSecret][peerTokenKey], b[peerTokenSecret][peerTokenKey])
}

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// fakeProvider answers the chart's lookup calls from a fake cluster
// (client-go's fake dynamic client): Secrets only.
type fakeProvider struct{ client dynamic.Interface }

func (p *fakeProvider) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	if apiVersion != "v1" || kind != "Secret" {
		return nil, false, assert.AnError
	}
	return p.client.Resource(secretsGVR), true, nil
}

// The chart names every collector's container opentelemetry-collector: the
// agents leave out their own log, not the gateways'.
func TestHelmAgentLeavesOutItsOwnLogOnly(t *testing.T) {
	agent, gw := helmWorkload(t, "agent"), helmWorkload(t, "gateway")
	var fl struct {
		Include []string `mapstructure:"include"`
		Exclude []string `mapstructure:"exclude"`
	}
	require.NoError(t, agent.view(t, helmSet(t, "agent"), 0).Config.Decode("receivers::file_log", &fl))
	logOf := func(w workload) string {
		p := w.pod(0)
		return "/var/log/pods/" + p.Namespace + "_" + p.Name + "_" + p.UID + "/" + w.Container + "/0.log"
	}
	own, gwLog := logOf(agent), logOf(gw)
	assert.True(t, matchesAny(t, fl.Include, own) && matchesAny(t, fl.Exclude, own), "its own log %s is left out", own)
	assert.True(t, matchesAny(t, fl.Include, gwLog) && !matchesAny(t, fl.Exclude, gwLog), "the gateways' log %s is collected", gwLog)
}
