package k8s_test

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
)

// The sidecar serves its application on localhost only, starts before it and
// stops after it, and forwards metrics and logs to the gateway Service.
func TestSidecarServesItsPodOnLocalhost(t *testing.T) {
	for o, w := range tier(t, "sidecar") {
		t.Run(o, func(t *testing.T) {
			v := w.view(t, render(t, o), 0)
			c := container(t, w)
			native := false
			for _, ic := range w.Spec.InitContainers {
				native = native || (ic.Name == c.Name && ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways)
			}
			assert.True(t, native, "a native sidecar: up before the application, down after it")

			grpc := ""
			for _, l := range listeners(t, v) {
				if l.What == "otlp grpc" || l.What == "otlp http" {
					assert.Contains(t, []string{"localhost", "127.0.0.1", "::1"}, l.Host, "%s on localhost only", l.What)
					if l.What == "otlp grpc" {
						grpc = net.JoinHostPort("localhost", strconv.Itoa(int(l.Port)))
					}
				}
			}
			require.NotEmpty(t, grpc)
			apps := 0
			for _, app := range w.Spec.Containers {
				env, err := podconfig.Env(w.Spec, app.Name, w.pod(0), nil)
				require.NoError(t, err)
				assert.Equal(t, "http://"+grpc, env["OTEL_EXPORTER_OTLP_ENDPOINT"], "container %s exports to its sidecar", app.Name)
				apps++
			}
			assert.Positive(t, apps)

			gw, err := manifest.Get[*corev1.Service](render(t, "gateway"), gatewayService)
			require.NoError(t, err)
			assert.Equal(t, gw.Name+"."+gw.Namespace+".svc.cluster.local:4317", v.Config.Get("exporters::otlp_grpc/gateway::endpoint"),
				"the gateway Service's full name: the sidecar runs in its application's namespace")
			for _, signal := range []string{"metrics", "logs"} {
				var p struct {
					Exporters []string `mapstructure:"exporters"`
				}
				require.NoError(t, v.Config.Decode("service::pipelines::"+signal, &p))
				assert.Equal(t, []string{"otlp_grpc/gateway"}, p.Exporters, "%s go to the gateway Service", signal)
			}
		})
	}
}

// The sidecar's traces take the agents' way: the load-balancing exporter by
// trace ID over the gateways' headless Service. With no service account
// token it resolves by DNS, whose members are the ready replicas, each named
// as it names itself; and it reads the resolver block of the hybrid-dns
// overlay, so that there sidecars, agents and the gateways' stickycheck
// share one view of the ring.
func TestSidecarRoutesTracesOverTheGatewayRingByDNS(t *testing.T) {
	for o, w := range tier(t, "sidecar") {
		t.Run(o, func(t *testing.T) {
			v := w.view(t, render(t, o), 0)
			_, gwSet := gatewaysFor(t, o)
			lb, gr := assertTracesRouteOverTheGatewayRing(t, v, gwSet)
			require.True(t, lb.Resolver.DNS.HasValue(), "the dns resolver: the k8s resolver watches EndpointSlices, which needs a service account token")

			var res ring.ResolverConfig
			require.NoError(t, v.Config.Decode("exporters::load_balancing::resolver", &res))
			gw := gatewayIn(t, gwSet)
			var pods []podconfig.Pod
			var podLabels []map[string]string
			var ready []string
			for i := range gatewayReplicas {
				pods, podLabels = append(pods, gw.pod(i)), append(podLabels, gw.Meta.Labels)
				if i > 0 { // replica 0 is not ready (endpointSlice)
					self, ok := gw.view(t, gwSet, i).Config.Get("processors::stickycheck::self").(string)
					require.True(t, ok, "the gateway's stickycheck self")
					ready = append(ready, self)
				}
			}
			eps := endpointSlice(t, gr.Service, pods, podLabels, container(t, gw))
			slices.Sort(ready)
			assert.Equal(t, ready, dnsMembers(t, *res.DNS.Get(), gr.Service, eps),
				"the sidecar's members are the ready replicas, each as its stickycheck names itself")

			dnsSet := render(t, "hybrid-dns")
			sidecarRes := v.Config.Get("exporters::load_balancing::resolver")
			for _, other := range workloads(dnsSet) {
				ov := other.view(t, dnsSet, 0)
				key := map[string]string{"agent": "exporters::load_balancing::resolver", "gateway": "processors::stickycheck::resolver"}[other.Tier]
				require.NotEmpty(t, key, "hybrid-dns deploys %s", other.Tier)
				assert.Equal(t, ov.Config.Get(key), sidecarRes, "hybrid-dns: the %s's %s and the sidecar's resolver", other.Tier, key)
			}
		})
	}
}

// The sidecar's load-balancing exporter queues and retries as the agent's
// does (configs/agent.yaml): everything but the resolver is the same.
func TestSidecarLoadBalancingHasTheAgentsQueueAndRetry(t *testing.T) {
	exporter := func(v *podconfig.View) map[string]any {
		m, ok := v.Config.Get("exporters::load_balancing").(map[string]any)
		require.True(t, ok, "a load_balancing exporter")
		m = maps.Clone(m)
		require.Contains(t, m, "resolver")
		delete(m, "resolver")
		return m
	}
	for so, sw := range tier(t, "sidecar") {
		sidecar := exporter(sw.view(t, render(t, so), 0))
		require.Contains(t, sidecar, "sending_queue")
		require.Contains(t, sidecar, "retry_on_failure")
		for ao, aw := range tier(t, "agent") {
			assert.Equal(t, exporter(aw.view(t, render(t, ao), 0)), sidecar, "load_balancing of the sidecar (%s) and of the agent (%s)", so, ao)
		}
	}
}
