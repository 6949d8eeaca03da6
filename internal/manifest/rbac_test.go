package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
)

const rbacObjects = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - apiGroups: [""]
    resources: [pods, nodes]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: agent, namespace: obs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: slices, namespace: obs}
rules:
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: slices, namespace: obs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: slices}
subjects: [{kind: ServiceAccount, name: agent}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: configmaps}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: configmaps, namespace: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: configmaps}
subjects: [{kind: ServiceAccount, name: agent, namespace: obs}]
`

func rule(group, resource string, verbs ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs}
}

func TestRulesForFollowsBindings(t *testing.T) {
	set, err := Decode(splitDocs(rbacObjects))
	require.NoError(t, err)

	cluster, err := set.RulesFor("obs", "agent", ClusterWide)
	require.NoError(t, err)
	ok, _ := Covers(cluster, []rbacv1.PolicyRule{rule("", "pods", "list", "watch"), rule("", "nodes", "get")})
	assert.True(t, ok)
	ok, missing := Covers(cluster, []rbacv1.PolicyRule{rule("discovery.k8s.io", "endpointslices", "list")})
	assert.False(t, ok, "a Role grants nothing cluster-wide")
	assert.Equal(t, []rbacv1.PolicyRule{rule("discovery.k8s.io", "endpointslices", "list")}, missing)

	obs, err := set.RulesFor("obs", "agent", "obs")
	require.NoError(t, err)
	ok, _ = Covers(obs, []rbacv1.PolicyRule{rule("discovery.k8s.io", "endpointslices", "get", "list", "watch"), rule("", "pods", "get")})
	assert.True(t, ok, "the RoleBinding's subject without a namespace is in the binding's namespace")
	ok, _ = Covers(obs, []rbacv1.PolicyRule{rule("", "configmaps", "get")})
	assert.False(t, ok, "the configmaps binding is in namespace other")
	ok, _ = Covers(obs, []rbacv1.PolicyRule{rule("", "pods", "delete")})
	assert.False(t, ok)

	other, err := set.RulesFor("obs", "agent", "other")
	require.NoError(t, err)
	ok, _ = Covers(other, []rbacv1.PolicyRule{rule("", "configmaps", "get")})
	assert.True(t, ok, "a RoleBinding to a ClusterRole grants it within its namespace")

	nobody, err := set.RulesFor("obs", "gateway", "obs")
	require.NoError(t, err)
	assert.Empty(t, nobody)
}

func TestRulesForNamesABindingToAMissingRole(t *testing.T) {
	set, err := Decode(splitDocs(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: obs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gone}
subjects: [{kind: ServiceAccount, name: agent}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: c}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone-too}
subjects: [{kind: ServiceAccount, name: agent, namespace: obs}]
`))
	require.NoError(t, err)
	_, err = set.RulesFor("obs", "agent", "obs")
	assert.ErrorContains(t, err, `RoleBinding obs/b: Role "gone" is not in the set`)
	assert.ErrorContains(t, err, `ClusterRoleBinding c: ClusterRole "gone-too" is not in the set`)
}

func splitDocs(s string) [][]byte {
	var out [][]byte
	for _, d := range strings.Split(s, "\n---\n") {
		out = append(out, []byte(d))
	}
	return out
}
