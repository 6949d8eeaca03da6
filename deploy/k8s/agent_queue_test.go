package k8s_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// The opt-in persistent agent queue (components/agent-persistent-queue) on
// the agent overlay renders to a DaemonSet whose collector reads the agent
// config and the overlay of configs/overlays, has AGENT_QUEUE_DIR set to a
// writable hostPath mount of its node, and keeps its hardened security
// context; without the component the DaemonSet has none of it.
func TestAgentPersistentQueueComponentRenders(t *testing.T) {
	docs, err := manifest.Render(filepath.Join("testdata", "agent-persistent-queue"))
	require.NoError(t, err)
	set, err := manifest.Decode(docs)
	require.NoError(t, err, "decodes strictly")
	ds := manifest.All[*appsv1.DaemonSet](set)
	require.Len(t, ds, 1)
	spec := ds[0].Spec.Template.Spec
	var c *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == "otel-collector" {
			c = &spec.Containers[i]
		}
	}
	require.NotNil(t, c, "the collector's container")

	assert.Equal(t, []string{"--config=/etc/otelcol-tiered/agent.yaml", "--config=/etc/otelcol-tiered/agent-persistent-queue.yaml"}, c.Args,
		"the agent config, then the overlay merged over it")
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	dir := env["AGENT_QUEUE_DIR"]
	assert.Equal(t, "/var/lib/otelcol-tiered/agent-queue", dir, "AGENT_QUEUE_DIR")

	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == dir {
			mount = &c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "a volume mounted at AGENT_QUEUE_DIR")
	assert.False(t, mount.ReadOnly, "the queue's mount is writable")
	var vol *corev1.Volume
	var configMap string
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == mount.Name {
			vol = &spec.Volumes[i]
		}
		if spec.Volumes[i].ConfigMap != nil {
			configMap = spec.Volumes[i].ConfigMap.Name
		}
	}
	require.NotNil(t, vol)
	require.NotNil(t, vol.HostPath, "the queue is on the node (hostPath): the next agent pod on the node finds it")
	require.NotNil(t, vol.HostPath.Type)
	assert.Equal(t, corev1.HostPathDirectoryOrCreate, *vol.HostPath.Type)
	assert.Equal(t, "/var/lib/otelcol-tiered/agent-queue", vol.HostPath.Path)

	// Root (to create and write the node's directory) without any
	// capability, the root filesystem read-only: the DaemonSet's own.
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, sc.RunAsUser)
	assert.EqualValues(t, 0, *sc.RunAsUser)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)

	// The ConfigMap the pod mounts holds both files, the overlay as in
	// configs/overlays (the one source), and its file_storage reads
	// AGENT_QUEUE_DIR.
	var cm *corev1.ConfigMap
	for _, m := range manifest.All[*corev1.ConfigMap](set) {
		if m.Name == configMap {
			cm = m
		}
	}
	require.NotNil(t, cm, "the ConfigMap %s the DaemonSet mounts", configMap)
	assert.Equal(t, readFile(t, filepath.Join(repoRoot, "configs", "agent.yaml")), cm.Data["agent.yaml"])
	overlay := readFile(t, filepath.Join(repoRoot, "configs", "overlays", "agent-persistent-queue.yaml"))
	assert.Equal(t, overlay, cm.Data["agent-persistent-queue.yaml"])
	assert.Contains(t, overlay, "${env:AGENT_QUEUE_DIR")
	assert.True(t, strings.Contains(overlay, "storage: file_storage/agent"), "the load-balancing queue on the file storage")

	// The agent overlay alone stays as shipped: memory queue, no hostPath.
	plain := tier(t, "agent")["agent"]
	for _, v := range plain.Spec.Volumes {
		assert.NotEqual(t, "agent-queue", v.Name, "the shipped agent overlay has no queue volume")
	}
}
