package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

const policy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: data}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {matchLabels: {app: web}}
      ports: [{port: sql}]
    - from:
        - namespaceSelector: {matchLabels: {team: ops}}
          podSelector: {matchLabels: {role: backup}}
      ports: [{port: 9000, endPort: 9002, protocol: TCP}]
`

func TestAdmitsFollowsTheNetworkPolicyAPI(t *testing.T) {
	set, err := Decode([][]byte{[]byte(policy)})
	require.NoError(t, err)
	db := Pod{Namespace: "data", Labels: map[string]string{"app": "db"},
		Ports: []corev1.ContainerPort{{Name: "sql", ContainerPort: 5432}}}
	web := Pod{Namespace: "data", Labels: map[string]string{"app": "web"}}
	webElsewhere := Pod{Namespace: "shop", Labels: map[string]string{"app": "web"}}
	backup := Pod{Namespace: "ops", NamespaceLabels: map[string]string{"team": "ops"}, Labels: map[string]string{"role": "backup"}}
	other := Pod{Namespace: "data", Labels: map[string]string{"app": "cron"}}
	for _, tc := range []struct {
		name string
		src  Pod
		dst  Pod
		port int32
		want bool
	}{
		{"the named port from its own namespace's web pods", web, db, 5432, true},
		{"another port", web, db, 5433, false},
		{"web pods of another namespace: a podSelector alone is the policy's namespace", webElsewhere, db, 5432, false},
		{"backups in a labelled namespace, in the range", backup, db, 9001, true},
		{"backups: outside the range", backup, db, 9003, false},
		{"backups: not the named port", backup, db, 5432, false},
		{"a pod no rule names", other, db, 5432, false},
		{"a pod no policy selects takes anything", db, other, 1234, true},
	} {
		got, err := set.Admits(tc.src, tc.dst, tc.port)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}
