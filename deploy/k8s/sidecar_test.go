package k8s_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
)

// The sidecar serves its application on localhost only, starts before it and
// stops after it, and forwards to the gateway Service.
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
		})
	}
}
