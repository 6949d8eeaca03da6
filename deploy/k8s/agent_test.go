package k8s_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
)

// The agents' load-balancing exporter routes traces by trace ID to the
// members of the gateways' headless Service, and sees the same members as
// the gateways' stickycheck.
func TestAgentResolverNamesTheHeadlessServiceAndRoutesByTraceID(t *testing.T) {
	for o, w := range tier(t, "agent") {
		t.Run(o, func(t *testing.T) {
			v := w.view(t, render(t, o), 0)
			gwOverlay, gwSet := gatewaysFor(t, o)
			lb, gr := assertTracesRouteOverTheGatewayRing(t, v, gwSet)

			// Both tiers read one resolver block, so both see one ring.
			gw := gatewayIn(t, gwSet)
			gv := gw.view(t, gwSet, 0)
			assert.Equal(t, gv.Config.Get("processors::stickycheck::resolver"), v.Config.Get("exporters::load_balancing::resolver"),
				"the agents' resolver (%s) and the gateways' stickycheck resolver (%s)", o, gwOverlay)
			if lb.Resolver.K8sSvc.HasValue() {
				var agentRes ring.ResolverConfig
				require.NoError(t, v.Config.Decode("exporters::load_balancing::resolver", &agentRes))
				var pods []podconfig.Pod
				var podLabels []map[string]string
				var want []string
				for i := range gatewayReplicas {
					pods, podLabels = append(pods, gw.pod(i)), append(podLabels, gw.Meta.Labels)
					want = append(want, fmt.Sprintf("%s:%d", gw.pod(i).PodIP, gr.OTLPPort))
				}
				eps := endpointSlice(t, gr.Service, pods, podLabels, container(t, gw))
				slices.Sort(want)
				assert.Equal(t, want, members(t, agentRes, eps))
			}
		})
	}
}

// The agent runs on every node, reads the pods' log files from the node,
// read-only, leaves its own log out, and knows its node and pod.
func TestAgentRunsOnEveryNodeAndReadsPodLogs(t *testing.T) {
	for o, w := range tier(t, "agent") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			require.Equal(t, "DaemonSet", w.Kind)
			assert.Contains(t, w.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists},
				"tolerates every taint: control plane and tainted nodes included")

			c := container(t, w)
			hostMounts := map[string]corev1.VolumeMount{} // by mount path
			for _, m := range c.VolumeMounts {
				for _, vol := range w.Spec.Volumes {
					if vol.Name == m.Name && vol.HostPath != nil {
						assert.True(t, m.ReadOnly, "host path %s is mounted read-only", vol.HostPath.Path)
						assert.Equal(t, vol.HostPath.Path, m.MountPath, "host path %s at the same path in the container", vol.HostPath.Path)
						hostMounts[m.MountPath] = m
					}
				}
			}
			assert.Contains(t, hostMounts, "/var/log")
			assert.Contains(t, hostMounts, "/var/lib/docker/containers", "where container logs live with the docker runtime")

			v := w.view(t, set, 0)
			var fl struct {
				Include []string `mapstructure:"include"`
				Exclude []string `mapstructure:"exclude"`
			}
			require.NoError(t, v.Config.Decode("receivers::file_log", &fl))
			require.NotEmpty(t, fl.Include)
			for _, pattern := range fl.Include {
				under := false
				for mp := range hostMounts {
					under = under || strings.HasPrefix(pattern, mp+"/")
				}
				assert.True(t, under, "file_log reads %s from a host path", pattern)
			}
			pod := w.pod(0)
			logOf := func(ns, name, uid, container string) string {
				return fmt.Sprintf("/var/log/pods/%s_%s_%s/%s/0.log", ns, name, uid, container)
			}
			own := logOf(pod.Namespace, pod.Name, pod.UID, c.Name)
			assert.True(t, matchesAny(t, fl.Include, own) && matchesAny(t, fl.Exclude, own), "its own log %s is left out (no feedback loop)", own)
			gwSetName, gwSet := gatewaysFor(t, o)
			for _, g := range workloads(gwSet) {
				if g.Tier == "gateway" {
					p := g.pod(0)
					gwLog := logOf(p.Namespace, p.Name, p.UID, g.Container)
					assert.True(t, matchesAny(t, fl.Include, gwLog) && !matchesAny(t, fl.Exclude, gwLog),
						"the gateways' logs (%s, %s) are collected", gwLog, gwSetName)
				}
			}

			fieldPaths := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					fieldPaths[e.Name] = e.ValueFrom.FieldRef.FieldPath
				}
			}
			assert.Equal(t, "spec.nodeName", fieldPaths["K8S_NODE_NAME"])
			assert.Equal(t, "metadata.name", fieldPaths["POD_NAME"])
			assert.Equal(t, "status.podIP", fieldPaths["POD_IP"])
			assert.Equal(t, "metadata.namespace", fieldPaths["POD_NAMESPACE"])
			assert.Equal(t, pod.NodeName, v.Config.Get("processors::k8s_attributes::filter::node"), "k8s_attributes watches this node's pods")
			assert.Equal(t, false, v.Config.Get("processors::k8s_attributes::passthrough"), "k8s_attributes asks the API")
			assert.Equal(t, "https://"+pod.NodeName+":10250", v.Config.Get("receivers::kubelet_stats::endpoint"))
			assert.Equal(t, "serviceAccount", v.Config.Get("receivers::kubelet_stats::auth_type"))

			// The node's applications send to the node's IP.
			hostPorts := map[int32]int32{}
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					hostPorts[p.ContainerPort] = p.HostPort
				}
			}
			assert.Equal(t, map[int32]int32{4317: 4317, 4318: 4318}, hostPorts, "OTLP on the node's IP")
		})
	}
}

func matchesAny(t *testing.T, patterns []string, path string) bool {
	t.Helper()
	for _, p := range patterns {
		ok, err := filepath.Match(p, path)
		require.NoError(t, err, "pattern %q", p)
		if ok {
			return true
		}
	}
	return false
}
