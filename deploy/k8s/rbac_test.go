package k8s_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
)

// need is what one configured component needs from the API server.
type need struct {
	why       string
	namespace string // manifest.ClusterWide: every namespace, or cluster-scoped resources
	rules     []rbacv1.PolicyRule
}

var read = []string{"get", "list", "watch"}

func rule(group string, verbs []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
}

// inUse lists the components the service section runs, as "kind::id".
func inUse(t *testing.T, v *podconfig.View) map[string]bool {
	t.Helper()
	var svc struct {
		Extensions []string `mapstructure:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `mapstructure:"receivers"`
			Processors []string `mapstructure:"processors"`
			Exporters  []string `mapstructure:"exporters"`
		} `mapstructure:"pipelines"`
	}
	require.NoError(t, v.Config.Decode("service", &svc))
	out := map[string]bool{}
	for _, e := range svc.Extensions {
		out["extensions::"+e] = true
	}
	for _, p := range svc.Pipelines {
		for kind, ids := range map[string][]string{"receivers": p.Receivers, "processors": p.Processors, "exporters": p.Exporters} {
			for _, id := range ids {
				out[kind+"::"+id] = true
			}
		}
	}
	return out
}

// needsOf derives, from the config as the pod sees it, what its components
// ask of the API server, per their documentation at the pinned release.
func needsOf(t *testing.T, v *podconfig.View, podNamespace string) []need {
	t.Helper()
	var out []need
	for key := range inUse(t, v) {
		typ, _, _ := strings.Cut(key[strings.Index(key, "::")+2:], "/")
		switch {
		case strings.HasPrefix(key, "processors::") && typ == "k8s_attributes":
			out = append(out, k8sAttributesNeeds(t, v, key)...)
		case strings.HasPrefix(key, "receivers::") && typ == "kubelet_stats":
			var ks struct {
				AuthType            string   `mapstructure:"auth_type"`
				ExtraMetadataLabels []string `mapstructure:"extra_metadata_labels"`
			}
			require.NoError(t, v.Config.Decode(key, &ks))
			if ks.AuthType == "serviceAccount" {
				// kubeletstatsreceiver README, "Role-based access control".
				out = append(out, need{key, manifest.ClusterWide, []rbacv1.PolicyRule{rule("", []string{"get"}, "nodes/stats")}})
				if len(ks.ExtraMetadataLabels) > 0 {
					out = append(out, need{key + " (extra_metadata_labels)", manifest.ClusterWide, []rbacv1.PolicyRule{rule("", []string{"get"}, "nodes/pods")}})
				}
			}
		case strings.HasPrefix(key, "exporters::") && typ == "load_balancing":
			out = append(out, resolverNeeds(t, v, key+"::resolver", podNamespace)...)
		case strings.HasPrefix(key, "processors::") && typ == "stickycheck":
			out = append(out, resolverNeeds(t, v, key+"::resolver", podNamespace)...)
		case strings.HasPrefix(key, "processors::") && typ == "resource_detection":
			var rd struct {
				Detectors []string `mapstructure:"detectors"`
			}
			require.NoError(t, v.Config.Decode(key, &rd))
			if slices.Contains(rd.Detectors, "k8snode") {
				out = append(out, need{key + " (k8snode)", manifest.ClusterWide, []rbacv1.PolicyRule{rule("", []string{"get"}, "nodes")}})
			}
		case strings.HasPrefix(key, "extensions::") && typ == "topology":
			// The workload lookup (topology README, "The workload lookup"):
			// agents in Kubernetes read their own pod.
			if v.Config.Get(key+"::role") == "agent" && v.Env["KUBERNETES_SERVICE_HOST"] != "" && v.Env["POD_NAME"] != "" && v.Env["POD_NAMESPACE"] != "" {
				out = append(out, need{key + " (workload lookup)", v.Env["POD_NAMESPACE"], []rbacv1.PolicyRule{rule("", []string{"get"}, "pods")}})
			}
		}
	}
	return out
}

// k8sAttributesNeeds follows k8sattributesprocessor's README, "Role-based
// access control", at the pinned release.
func k8sAttributesNeeds(t *testing.T, v *podconfig.View, key string) []need {
	t.Helper()
	type fieldExtract struct {
		From string `mapstructure:"from"`
	}
	ka := struct {
		Passthrough bool `mapstructure:"passthrough"`
		Filter      struct {
			Namespace string `mapstructure:"namespace"`
		} `mapstructure:"filter"`
		Extract struct {
			Metadata    []string       `mapstructure:"metadata"`
			Labels      []fieldExtract `mapstructure:"labels"`
			Annotations []fieldExtract `mapstructure:"annotations"`
			// The factory's default (config.go, DeploymentNameFromReplicaSet).
			DeploymentNameFromReplicaSet bool `mapstructure:"deployment_name_from_replicaset"`
		} `mapstructure:"extract"`
	}{}
	ka.Extract.DeploymentNameFromReplicaSet = true
	require.NoError(t, v.Config.Decode(key, &ka))
	if ka.Passthrough {
		return nil // only tags the sender's IP, no API calls
	}
	scope := ka.Filter.Namespace // "" (ClusterWide) without a namespace filter
	from := map[string]bool{}
	for _, f := range append(ka.Extract.Labels, ka.Extract.Annotations...) {
		from[f.From] = true
	}
	md := func(name string) bool { return slices.Contains(ka.Extract.Metadata, name) }
	out := []need{{key, scope, []rbacv1.PolicyRule{rule("", read, "pods", "namespaces")}}}
	if md("k8s.deployment.uid") || (md("k8s.deployment.name") && !ka.Extract.DeploymentNameFromReplicaSet) || from["deployment"] {
		out = append(out, need{key + " (deployment)", scope, []rbacv1.PolicyRule{rule("apps", read, "replicasets")}})
	}
	if md("k8s.node.uid") || from["node"] {
		out = append(out, need{key + " (node)", manifest.ClusterWide, []rbacv1.PolicyRule{rule("", read, "nodes")}})
	}
	if md("k8s.cronjob.uid") || from["job"] {
		out = append(out, need{key + " (job)", scope, []rbacv1.PolicyRule{rule("batch", read, "jobs")}})
	}
	return out
}

// resolverNeeds: the k8s resolver watches the Service's EndpointSlices in its
// namespace (loadbalancingexporter README, "RBAC requirement").
func resolverNeeds(t *testing.T, v *podconfig.View, key, podNamespace string) []need {
	t.Helper()
	var res struct {
		K8s *struct {
			Service string `mapstructure:"service"`
		} `mapstructure:"k8s"`
	}
	require.NoError(t, v.Config.Decode(key, &res))
	if res.K8s == nil {
		return nil
	}
	service := res.K8s.Service
	parts := strings.Split(service, ".")
	ns := podNamespace
	if len(parts) > 1 {
		ns = parts[1]
	}
	return []need{{key, ns, []rbacv1.PolicyRule{rule("discovery.k8s.io", read, "endpointslices")}}}
}

// extraRules are granted beyond what the configs need, because the issue
// asks for the seed's RBAC: the agent reads nodes and replicasets too.
var extraRules = map[string][]rbacv1.PolicyRule{
	"agent": {rule("", read, "nodes"), rule("apps", read, "replicasets")},
}

// Each collector's service account holds what its configured components
// need, in the right scope, and nothing more.
func TestRBACCoversWhatTheConfiguredComponentsNeed(t *testing.T) {
	for _, o := range overlays(t) {
		set := render(t, o)
		for _, w := range workloads(set) {
			t.Run(o+"/"+w.Tier, func(t *testing.T) { assertRBAC(t, set, w) })
		}
	}
}

// assertRBAC: w's service account holds what its configured components
// need, in the right scope, and nothing more.
func assertRBAC(t *testing.T, set *manifest.Set, w workload) {
	t.Helper()
	v := w.view(t, set, 0)
	podNs := w.pod(0).Namespace
	needs := needsOf(t, v, podNs)
	if w.Spec.AutomountServiceAccountToken != nil && !*w.Spec.AutomountServiceAccountToken {
		assert.Empty(t, needs, "no token: no component may need the API")
		return
	}
	sa := w.Spec.ServiceAccountName
	require.NotEmpty(t, sa, "a service account of its own, not the namespace's default")
	_, err := manifest.Get[*corev1.ServiceAccount](set, sa)
	require.NoError(t, err)

	clusterHeld, err := set.RulesFor(w.Namespace, sa, manifest.ClusterWide)
	require.NoError(t, err)
	var allNeeded, clusterNeeded []rbacv1.PolicyRule
	for _, n := range needs {
		held, err := set.RulesFor(w.Namespace, sa, n.namespace)
		require.NoError(t, err)
		ok, missing := manifest.Covers(held, n.rules)
		assert.True(t, ok, "%s needs %v in %q, missing %v", n.why, n.rules, n.namespace, missing)
		allNeeded = append(allNeeded, n.rules...)
		if n.namespace == manifest.ClusterWide {
			clusterNeeded = append(clusterNeeded, n.rules...)
		}
	}
	extra := extraRules[w.Tier]
	ok, unneeded := manifest.Covers(append(clusterNeeded, extra...), clusterHeld)
	assert.True(t, ok, "granted cluster-wide but not needed so: %v", unneeded)
	nsHeld, err := set.RulesFor(w.Namespace, sa, podNs)
	require.NoError(t, err)
	ok, unneeded = manifest.Covers(append(allNeeded, extra...), nsHeld)
	assert.True(t, ok, "granted in %s but not needed: %v", podNs, unneeded)
	t.Logf("%s needs %d rule sets: %v", w.Tier, len(needs), needs)
}

// The sidecar needs no cluster access: no token, no account, no roles.
func TestSidecarHasNoRBAC(t *testing.T) {
	for o, w := range tier(t, "sidecar") {
		set := render(t, o)
		assert.Equal(t, false, *w.Spec.AutomountServiceAccountToken, "%s: no service account token", o)
		assert.Empty(t, w.Spec.ServiceAccountName)
		for _, obj := range set.Objects {
			switch obj.Obj.(type) {
			case *corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
				t.Errorf("%s: %s", o, obj)
			}
		}
	}
}

// Every binding binds an account and a role that are deployed with it.
func TestRBACBindsDeployedAccountsAndRoles(t *testing.T) {
	for _, o := range overlays(t) {
		set := render(t, o)
		accounts := map[string]bool{}
		for _, sa := range manifest.All[*corev1.ServiceAccount](set) {
			accounts[sa.Namespace+"/"+sa.Name] = true
		}
		check := func(binding string, subjects []rbacv1.Subject, bindingNs string) {
			require.NotEmpty(t, subjects, "%s: %s binds no one", o, binding)
			for _, s := range subjects {
				ns := s.Namespace
				if ns == "" {
					ns = bindingNs
				}
				assert.Equal(t, rbacv1.ServiceAccountKind, s.Kind, "%s: %s", o, binding)
				assert.True(t, accounts[ns+"/"+s.Name], "%s: %s binds %s/%s, which is not deployed", o, binding, ns, s.Name)
				_, err := set.RulesFor(ns, s.Name, bindingNs)
				assert.NoError(t, err, "%s: %s", o, binding)
			}
		}
		for _, b := range manifest.All[*rbacv1.ClusterRoleBinding](set) {
			check("ClusterRoleBinding "+b.Name, b.Subjects, "")
		}
		for _, b := range manifest.All[*rbacv1.RoleBinding](set) {
			check("RoleBinding "+b.Name, b.Subjects, b.Namespace)
		}
	}
}

// targetAllocatorRules are the rules the OpenTelemetry Operator checks its
// target allocator's account for when prometheusCR is on
// (apis/v1beta1/targetallocator_rbac.go at the release of operatorCRD).
var targetAllocatorRules = []rbacv1.PolicyRule{
	rule("monitoring.coreos.com", []string{"*"}, "servicemonitors", "podmonitors"),
	rule("", read, "nodes", "nodes/metrics", "services", "endpoints", "pods", "namespaces"),
	rule("", []string{"get"}, "configmaps"),
	rule("discovery.k8s.io", read, "endpointslices"),
	rule("networking.k8s.io", read, "ingresses"),
	{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
	{NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*"}, Verbs: []string{"get"}},
}

func TestTargetAllocatorRBACIsWhatTheOperatorChecks(t *testing.T) {
	set := render(t, "operator")
	cols := manifest.All[*unstructured.Unstructured](set)
	require.Len(t, cols, 1)
	sa, _, _ := unstructured.NestedString(cols[0].Object, "spec", "targetAllocator", "serviceAccount")
	require.NotEmpty(t, sa, "the target allocator runs with the account deployed for it")
	_, err := manifest.Get[*corev1.ServiceAccount](set, sa)
	require.NoError(t, err)
	held, err := set.RulesFor(cols[0].GetNamespace(), sa, manifest.ClusterWide)
	require.NoError(t, err)
	ok, missing := manifest.Covers(held, targetAllocatorRules)
	assert.True(t, ok, "missing %v", missing)
	ok, unneeded := manifest.Covers(targetAllocatorRules, held)
	assert.True(t, ok, "not needed: %v", unneeded)
}
