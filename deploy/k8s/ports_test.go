package k8s_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// Each probe of each collector asks its health_check extension, on the port
// and path it serves, at an address the kubelet reaches (the pod IP).
func TestProbesPointAtTheHealthPort(t *testing.T) {
	for _, tierName := range []string{"agent", "gateway", "sidecar"} {
		for o, w := range tier(t, tierName) {
			t.Run(o+"/"+tierName, func(t *testing.T) {
				v := w.view(t, render(t, o), 0)
				var health *listener
				for _, l := range listeners(t, v) {
					if l.What == "health_check" {
						health = &l
					}
				}
				require.NotNil(t, health, "the config has a health_check endpoint")
				assert.True(t, reachable(health.Host, w.pod(0).PodIP), "health_check binds %s, the kubelet probes the pod IP %s", health.Host, w.pod(0).PodIP)
				path := "/"
				if p, ok := v.Config.Get("extensions::health_check::path").(string); ok {
					path = p
				}
				c := container(t, w)
				probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
				if c.StartupProbe != nil {
					probes["startup"] = c.StartupProbe
				}
				for kind, p := range probes {
					require.NotNil(t, p, "a %s probe", kind)
					require.NotNil(t, p.HTTPGet, "%s probe: an HTTP GET", kind)
					port, err := containerPort(c, p.HTTPGet.Port)
					require.NoError(t, err)
					assert.Equal(t, health.Port, port, "%s probe port", kind)
					assert.Equal(t, path, p.HTTPGet.Path, "%s probe path", kind)
					assert.Empty(t, p.HTTPGet.Host, "%s probe: the pod IP", kind)
				}
			})
		}
	}
}

// What a collector listens on and what its manifest declares agree: every
// port the pod IP can reach is declared, every declared port is listened on
// at the pod IP (but for the ports of components still to come), and every
// Service port leads to such a listener.
func TestServicesAndDeclaredPortsReachTheListeners(t *testing.T) {
	for _, o := range overlays(t) {
		set := render(t, o)
		for _, w := range workloads(set) {
			t.Run(o+"/"+w.Tier, func(t *testing.T) {
				v := w.view(t, set, 0)
				ip := w.pod(0).PodIP
				c := container(t, w)
				byPort := map[int32]listener{}
				for _, l := range listeners(t, v) {
					byPort[l.Port] = l
					if reachable(l.Host, ip) {
						assert.Contains(t, containerPorts(c), l.Port, "%s listens on %s:%d: declare the port", l.What, l.Host, l.Port)
					}
				}
				for _, cp := range c.Ports {
					l, ok := byPort[cp.ContainerPort]
					if !ok {
						t.Errorf("port %s (%d) is declared, nothing listens on it", cp.Name, cp.ContainerPort)
						continue
					}
					assert.True(t, reachable(l.Host, ip), "port %s: %s listens on %s, not on the pod IP", cp.Name, l.What, l.Host)
				}
				if w.Tier != "sidecar" {
					for _, want := range []int32{4317, 4318, 8888, 13133} {
						assert.Contains(t, byPort, want, "the %s listens on %d", w.Tier, want)
					}
				}

				for _, svc := range manifest.All[*corev1.Service](set) {
					if !selects(t, svc.Spec.Selector, w) {
						continue
					}
					for _, p := range svc.Spec.Ports {
						port, err := containerPort(c, p.TargetPort)
						require.NoError(t, err, "Service %s port %s", svc.Name, p.Name)
						l, ok := byPort[port]
						if assert.True(t, ok, "Service %s port %s: nothing listens on %d", svc.Name, p.Name, port) {
							assert.True(t, reachable(l.Host, ip), "Service %s port %s: %s listens on %s", svc.Name, p.Name, l.What, l.Host)
						}
					}
				}
			})
		}
	}
}

func containerPorts(c *corev1.Container) []int32 {
	var out []int32
	for _, p := range c.Ports {
		out = append(out, p.ContainerPort)
	}
	return out
}
