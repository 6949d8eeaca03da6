package podconfig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// The cases of the kubelet's expansion tests
// (kubernetes/third_party/forked/golang/expansion/expand_test.go).
func TestExpandFollowsTheKubeletsRules(t *testing.T) {
	vars := map[string]string{"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}
	for _, tc := range []struct{ in, want string }{
		{"$(VAR_A)", "A"},
		{"___$(VAR_B)___", "___B___"},
		{"$(VAR_A)-$(VAR_A)", "A-A"},
		{"$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"},
		{"$(VAR_REF)", "$(VAR_A)"}, // no recursion
		{"foo$(VAR_EMPTY)bar", "foobar"},
		{"$(VAR_DNE)", "$(VAR_DNE)"}, // unknown: kept as written
		{"$$(VAR_A)", "$(VAR_A)"},    // escaped
		{"$$$(VAR_A)", "$A"},
		{"$$$$(VAR_A)", "$$(VAR_A)"},
		{"$(VAR_A", "$(VAR_A"}, // unclosed
		{"$VAR_A", "$VAR_A"},   // not a reference
		{"foo$", "foo$"},
		{"$()", "$()"}, // an empty name is no variable
		{"f00__(VAR_A)__", "f00__(VAR_A)__"},
	} {
		assert.Equal(t, tc.want, Expand(tc.in, vars), "Expand(%q)", tc.in)
	}
}

func TestEnvReferencesSeeOnlyTheVariablesAboveThem(t *testing.T) {
	pod := Pod{PodIP: "10.1.2.3"}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{
		Name: "c",
		Env: []corev1.EnvVar{
			{Name: "EARLY_SELF", Value: "$(POD_IP):4317"},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "SELF", Value: "$(POD_IP):4317"},
		},
	}}}
	env, err := Env(spec, "c", pod, nil)
	require.NoError(t, err)
	assert.Equal(t, "$(POD_IP):4317", env["EARLY_SELF"], "a reference to a variable defined below stays unexpanded")
	assert.Equal(t, "10.1.2.3:4317", env["SELF"])
}

func TestEnvReadsTheDownwardAPIAndConfigMaps(t *testing.T) {
	pod := Pod{
		Name: "otel-gateway-0", Namespace: "observability", UID: "u-1", NodeName: "node-a",
		PodIP: "10.1.2.3", HostIP: "192.168.0.7",
		Labels:     map[string]string{"app": "gw"},
		ServiceEnv: map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "FROM_SERVICE": "svc"},
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	res := func(r, div string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: r}
		if div != "" {
			s.Divisor = resource.MustParse(div)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	spec := &corev1.PodSpec{
		ServiceAccountName: "otel-gateway",
		InitContainers: []corev1.Container{{
			Name: "sidecar",
			EnvFrom: []corev1.EnvFromSource{{
				Prefix:       "CM_",
				ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}},
			}},
			Env: []corev1.EnvVar{
				{Name: "NAME", ValueFrom: field("metadata.name")},
				{Name: "NS", ValueFrom: field("metadata.namespace")},
				{Name: "UID", ValueFrom: field("metadata.uid")},
				{Name: "NODE", ValueFrom: field("spec.nodeName")},
				{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
				{Name: "IP", ValueFrom: field("status.podIP")},
				{Name: "HOST", ValueFrom: field("status.hostIP")},
				{Name: "LABEL", ValueFrom: field("metadata.labels['app']")},
				{Name: "MEM_MIB", ValueFrom: res("limits.memory", "1Mi")},
				{Name: "MEM", ValueFrom: res("requests.memory", "")},
				{Name: "CPU_MILLI", ValueFrom: res("requests.cpu", "1m")},
				{Name: "CPU_CORES", ValueFrom: res("limits.cpu", "")}, // 1500m rounds up to 2
				{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "level",
				}}},
				{Name: "CM_level", Value: "override"},
				{Name: "VIA_SERVICE", Value: "$(FROM_SERVICE)"},
				{Name: "FROM_SERVICE", Value: "own"},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("50m")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("1500m")},
			},
		}},
	}
	cms := map[string]*corev1.ConfigMap{"settings": {Data: map[string]string{"level": "debug", "mode": "x"}}}
	env, err := Env(spec, "sidecar", pod, cms)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"NAME": "otel-gateway-0", "NS": "observability", "UID": "u-1", "NODE": "node-a", "SA": "otel-gateway",
		"IP": "10.1.2.3", "HOST": "192.168.0.7", "LABEL": "gw",
		"MEM_MIB": "256", "MEM": "67108864", "CPU_MILLI": "50", "CPU_CORES": "2",
		"LEVEL": "debug", "CM_level": "override", "CM_mode": "x",
		"VIA_SERVICE": "svc", "FROM_SERVICE": "own", "KUBERNETES_SERVICE_HOST": "10.96.0.1",
	}, env)
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	for name, tc := range map[string]struct {
		src  corev1.EnvVarSource
		want string
	}{
		"missing secret":  {corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}, `env X: secret "nope" not found`},
		"missing key":     {corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "nope"}}, `env X: secret "tok" has no key "nope"`},
		"unknown field":   {corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nope"}}, "env X: fieldRef spec.nope: not a downward API field"},
		"no pod IP":       {corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}, "gives no pod IP"},
		"missing cm":      {corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}, `ConfigMap "nope" not found`},
		"no limit":        {corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}, "node's allocatable"},
		"bad resource":    {corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "memory"}}, "want limits.<name>"},
		"empty valueFrom": {corev1.EnvVarSource{}, "names no source"},
	} {
		t.Run(name, func(t *testing.T) {
			src := tc.src
			spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &src}}}}}
			_, err := Env(spec, "c", Pod{Name: "p", Secrets: map[string]map[string]string{"tok": {"token": "s3cret"}}}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	optional := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: ptr.To(true)},
	}}}}}}
	env, err := Env(optional, "c", Pod{}, nil)
	require.NoError(t, err)
	assert.Empty(t, env["X"])
	secret := &corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "token"},
	}}}}}}
	env, err = Env(secret, "c", Pod{Secrets: map[string]map[string]string{"tok": {"token": "s3cret"}}}, nil)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", env["TOKEN"])
	_, err = Env(optional, "missing", Pod{}, nil)
	assert.ErrorContains(t, err, `no container "missing"`)
}
