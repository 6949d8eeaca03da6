package k8s_test

import (
	"fmt"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
)

// What agents and sidecars share: they send traces to the gateways over the
// ring of the gateways' headless Service.

// gatewaysFor returns the set in which overlay o's senders find their
// gateways: o itself when it deploys them, else the gateway overlay (an
// agent-only or sidecar overlay is applied next to it).
func gatewaysFor(t *testing.T, o string) (string, *manifest.Set) {
	t.Helper()
	for _, w := range workloads(render(t, o)) {
		if w.Tier == "gateway" {
			return o, render(t, o)
		}
	}
	return "gateway", render(t, "gateway")
}

// gatewayIn is the gateway workload of a set that deploys the gateways.
func gatewayIn(t *testing.T, set *manifest.Set) workload {
	t.Helper()
	for _, w := range workloads(set) {
		if w.Tier == "gateway" {
			return w
		}
	}
	t.Fatal("the set deploys no gateway")
	return workload{}
}

// gatewayRing is what a sender's resolver must name: the gateways' headless
// Service, and its OTLP gRPC port, which every member carries.
type gatewayRing struct {
	Service  *corev1.Service
	OTLPPort int32
}

// assertTracesRouteOverTheGatewayRing checks a sender's config as its pod
// sees it (v): its traces leave through the load-balancing exporter only,
// routed by trace ID, and the exporter's resolver (k8s or dns) names the
// headless Service of gwSet with its OTLP gRPC port, so that each member is
// a replica's pod IP:port, as the gateways name themselves.
func assertTracesRouteOverTheGatewayRing(t *testing.T, v *podconfig.View, gwSet *manifest.Set) (*loadbalancingexporter.Config, gatewayRing) {
	t.Helper()
	return assertTracesRouteOverRing(t, v, gwSet, headlessService)
}

// assertTracesRouteOverRing is assertTracesRouteOverTheGatewayRing with the
// headless Service named (the Helm release's is otel-gateway).
func assertTracesRouteOverRing(t *testing.T, v *podconfig.View, gwSet *manifest.Set, headless string) (*loadbalancingexporter.Config, gatewayRing) {
	t.Helper()
	cfg, err := v.Config.Component("exporters::load_balancing", loadbalancingexporter.NewFactory())
	require.NoError(t, err)
	lb := cfg.(*loadbalancingexporter.Config)
	assert.Equal(t, "traceID", lb.RoutingKey, "routing_key: traceID")
	var traces struct {
		Exporters []string `mapstructure:"exporters"`
	}
	require.NoError(t, v.Config.Decode("service::pipelines::traces", &traces))
	assert.Equal(t, []string{"load_balancing"}, traces.Exporters, "traces leave through the load-balancing exporter only")

	svc, err := manifest.Get[*corev1.Service](gwSet, headless)
	require.NoError(t, err)
	ring := gatewayRing{Service: svc}
	for _, p := range svc.Spec.Ports {
		if p.Name == "otlp-grpc" || p.Name == "otlp" { // the Helm chart's name
			ring.OTLPPort = p.Port
		}
	}
	require.NotZero(t, ring.OTLPPort, "the headless Service has an otlp-grpc port")
	switch {
	case lb.Resolver.K8sSvc.HasValue():
		k := lb.Resolver.K8sSvc.Get()
		assert.Equal(t, svc.Name+"."+svc.Namespace, k.Service, "k8s::service names the headless Service, namespace included")
		assert.Equal(t, []int32{ring.OTLPPort}, k.Ports, "one member per replica, on the OTLP gRPC port")
		assert.False(t, k.ReturnHostnames, "members are pod IPs, as the gateways' self")
	case lb.Resolver.DNS.HasValue():
		d := lb.Resolver.DNS.Get()
		assert.Equal(t, svc.Name+"."+svc.Namespace+".svc.cluster.local", d.Hostname, "dns::hostname names the headless Service")
		assert.Equal(t, fmt.Sprint(ring.OTLPPort), d.Port, "dns::port: each member is pod IP:port")
	default:
		t.Fatalf("the load-balancing resolver is neither k8s nor dns: %+v", lb.Resolver)
	}
	return lb, ring
}
