package podconfig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

func TestConfigPathReadsTheConfigFlag(t *testing.T) {
	env := map[string]string{"DIR": "/etc/x"}
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{args: []string{"--config=/etc/otelcol-tiered/agent.yaml"}, want: "/etc/otelcol-tiered/agent.yaml"},
		{args: []string{"--config", "/etc/a.yaml"}, want: "/etc/a.yaml"},
		{args: []string{"--config=file:/etc/a.yaml"}, want: "/etc/a.yaml"},
		{args: []string{"--config=$(DIR)/a.yaml"}, want: "/etc/x/a.yaml"},
		{args: []string{"--feature-gates=x"}, err: "want exactly one --config argument, got 0"},
		{args: []string{"--config=/a.yaml", "--config=/b.yaml"}, err: "got 2"},
		{args: []string{"--config=env:CONFIG"}, err: "is not an absolute file path"},
		{args: []string{"--config=a.yaml"}, err: "is not an absolute file path"},
	} {
		got, err := ConfigPath(&corev1.Container{Name: "c", Args: tc.args}, env)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.want, got)
	}
}

func TestMountedFileFollowsMountsToTheConfigMapKey(t *testing.T) {
	cms := map[string]*corev1.ConfigMap{
		"cfg-abc": {Data: map[string]string{"gateway.yaml": "gw", "renamed": "items", "sub.yaml": "sub"}},
	}
	cmVol := func(name string, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg-abc"}, Items: items,
		}}}
	}
	spec := &corev1.PodSpec{Volumes: []corev1.Volume{
		cmVol("config"),
		cmVol("itemized", corev1.KeyToPath{Key: "renamed", Path: "conf/x.yaml"}),
		{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "missing-cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
	}}
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
		{Name: "data", MountPath: "/etc"},
		{Name: "config", MountPath: "/etc/otelcol-tiered"},
		{Name: "itemized", MountPath: "/opt"},
		{Name: "config", MountPath: "/single.yaml", SubPath: "sub.yaml"},
		{Name: "missing-cm", MountPath: "/m"},
		{Name: "no-such-volume", MountPath: "/v"},
	}}
	for file, want := range map[string]string{
		"/etc/otelcol-tiered/gateway.yaml": "gw", // the longest mount wins over /etc
		"/opt/conf/x.yaml":                 "items",
		"/single.yaml":                     "sub",
	} {
		got, err := MountedFile(spec, c, file, cms)
		require.NoError(t, err, file)
		assert.Equal(t, want, got, file)
	}
	for file, want := range map[string]string{
		"/etc/otelcol-tiered/agent.yaml": `has no key "agent.yaml"`,
		"/etc/other.yaml":                `volume "data" at /etc is not a ConfigMap`,
		"/opt/other.yaml":                `lists no item at path "other.yaml"`,
		"/m/a.yaml":                      `ConfigMap "nope", which is not in the rendered objects`,
		"/v/a.yaml":                      `names volume "no-such-volume"`,
		"/nowhere/a.yaml":                "no volume is mounted at /nowhere/a.yaml",
	} {
		_, err := MountedFile(spec, c, file, cms)
		assert.ErrorContains(t, err, want, file)
	}
}

func TestLoadGivesTheConfigAsThePodSeesIt(t *testing.T) {
	spec := &corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "otel",
			Args: []string{"--config=/etc/otelcol-tiered/gateway.yaml"},
			Env: []corev1.EnvVar{
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "GATEWAY_SELF", Value: "$(POD_IP):4317"},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/otelcol-tiered"}},
		}},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "gw"},
		}}}},
	}
	cms := map[string]*corev1.ConfigMap{"gw": {Data: map[string]string{
		"gateway.yaml": "processors:\n  stickycheck:\n    self: ${env:GATEWAY_SELF:-127.0.0.1:4317}\n    listen: ${env:POD_IP:-127.0.0.1}:4319\n",
	}}}
	v, err := Load(spec, "otel", Pod{PodIP: "10.9.8.7"}, cms)
	require.NoError(t, err)
	assert.Equal(t, "/etc/otelcol-tiered/gateway.yaml", v.ConfigPath)
	assert.Equal(t, "10.9.8.7:4317", v.Config.Get("processors::stickycheck::self"))
	assert.Equal(t, "10.9.8.7:4319", v.Config.Get("processors::stickycheck::listen"))

	_, err = Load(spec, "otel", Pod{}, cms)
	assert.ErrorContains(t, err, "gives no pod IP")
}
