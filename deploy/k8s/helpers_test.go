// Package k8s_test checks the Kubernetes manifests of deploy/k8s the way a
// cluster would meet them, without one: every overlay rendered with the
// kustomize Go API, decoded strictly into the Kubernetes API types, and each
// collector's config read as its pod would see it (internal/podconfig).
package k8s_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
)

// The tests run in deploy/k8s.
var repoRoot = filepath.Join("..", "..")

const namespace = "observability"

var (
	renderMu sync.Mutex
	rendered = map[string]*manifest.Set{}
)

// overlays lists deploy/k8s/overlays.
func overlays(t *testing.T) []string {
	t.Helper()
	names, err := manifest.Overlays(".")
	require.NoError(t, err)
	return names
}

// render renders and strictly decodes an overlay (once per test binary).
func render(t *testing.T, overlay string) *manifest.Set {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if set, ok := rendered[overlay]; ok {
		return set
	}
	docs, err := manifest.Render(filepath.Join("overlays", overlay))
	require.NoError(t, err, "overlay %s renders", overlay)
	set, err := manifest.Decode(docs)
	require.NoError(t, err, "overlay %s decodes strictly", overlay)
	rendered[overlay] = set
	return set
}

// workload is a collector's pod template in a rendered overlay.
type workload struct {
	Tier      string // agent, gateway, sidecar: the app.kubernetes.io/component label
	Kind      string
	Name      string
	Namespace string
	Container string // the collector's container
	Meta      metav1.ObjectMeta
	Spec      *corev1.PodSpec
	// Secrets are those of its namespace; nil: suppliedSecrets.
	Secrets map[string]map[string]string
}

// workloads finds the collectors of a set: every pod template with a
// container of our image.
func workloads(set *manifest.Set) []workload {
	var out []workload
	add := func(kind string, meta metav1.ObjectMeta, tmplMeta metav1.ObjectMeta, spec *corev1.PodSpec) {
		for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
			for _, c := range list {
				if isCollectorImage(imageRepo(c.Image)) {
					out = append(out, workload{
						Tier: meta.Labels["app.kubernetes.io/component"], Kind: kind, Name: meta.Name,
						Namespace: meta.Namespace, Container: c.Name, Meta: tmplMeta, Spec: spec,
					})
				}
			}
		}
	}
	for _, d := range manifest.All[*appsv1.DaemonSet](set) {
		add("DaemonSet", d.ObjectMeta, d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec)
	}
	for _, s := range manifest.All[*appsv1.StatefulSet](set) {
		add("StatefulSet", s.ObjectMeta, s.Spec.Template.ObjectMeta, &s.Spec.Template.Spec)
	}
	for _, d := range manifest.All[*appsv1.Deployment](set) {
		add("Deployment", d.ObjectMeta, d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec)
	}
	for _, p := range manifest.All[*corev1.Pod](set) {
		add("Pod", p.ObjectMeta, p.ObjectMeta, &p.Spec)
	}
	return out
}

// tier returns the workloads of one tier across the overlays that hold it,
// keyed by overlay, and fails when no overlay holds it.
func tier(t *testing.T, name string) map[string]workload {
	t.Helper()
	out := map[string]workload{}
	for _, o := range overlays(t) {
		for _, w := range workloads(render(t, o)) {
			if w.Tier == name {
				out[o] = w
			}
		}
	}
	require.NotEmpty(t, out, "no overlay holds the %s tier", name)
	return out
}

// isCollectorImage: the all-in-one image or one of the tier images (make
// images; not the load generator's otelcol-tiered-loadgen).
func isCollectorImage(repo string) bool {
	switch repo {
	case "otelcol-tiered", "otelcol-tiered-agent", "otelcol-tiered-gateway", "otelcol-tiered-sidecar":
		return true
	}
	return false
}

func imageRepo(image string) string {
	m := regexp.MustCompile(`^([^:@]+)`).FindString(image)
	return m
}

// kubernetesService is what the kubelet adds to every container.
var kubernetesService = map[string]string{
	"KUBERNETES_SERVICE_HOST": "10.96.0.1",
	"KUBERNETES_SERVICE_PORT": "443",
}

// tierSubnet keeps the pod IPs of the tiers apart.
var tierSubnet = map[string]int{"agent": 1, "gateway": 2, "sidecar": 3}

// pod is one replica of w as it would run: the values only a running pod has.
func (w workload) pod(i int) podconfig.Pod {
	name := w.Name
	switch w.Kind {
	case "StatefulSet":
		name = fmt.Sprintf("%s-%d", w.Name, i)
	case "DaemonSet", "Deployment":
		name = fmt.Sprintf("%s-x7k2%c", w.Name, 'a'+i)
	}
	ns := w.Namespace
	if ns == "" {
		ns = "apps" // applied with kubectl -n apps
	}
	secrets := w.Secrets
	if secrets == nil {
		secrets = suppliedSecrets
	}
	return podconfig.Pod{
		Name: name, Namespace: ns, UID: fmt.Sprintf("uid-%s-%d", w.Name, i),
		NodeName: fmt.Sprintf("node-%d", i), HostIP: fmt.Sprintf("192.168.0.%d", 10+i),
		PodIP:  fmt.Sprintf("10.1.%d.%d", tierSubnet[w.Tier], 11+i),
		Labels: w.Meta.Labels, Annotations: w.Meta.Annotations,
		ServiceEnv: kubernetesService,
		Secrets:    secrets,
	}
}

// suppliedSecrets are the Secrets the README has the user create before
// applying an overlay: the gateways' peer token.
var suppliedSecrets = map[string]map[string]string{
	peerTokenSecret: {peerTokenKey: "k8s-test-peer-token-0123456789abcdef"},
}

// view is the collector's config as replica i of w sees it.
func (w workload) view(t *testing.T, set *manifest.Set, i int) *podconfig.View {
	t.Helper()
	v, err := podconfig.Load(w.Spec, w.Container, w.pod(i), set.ConfigMaps())
	require.NoError(t, err, "%s %s: the config as its pod sees it", w.Kind, w.Name)
	return v
}

// containerPort resolves a probe's or Service's target port (a number or a
// port name) to the container's port number.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s declares no port named %q", c.Name, p.StrVal)
}

// listener is an address a collector's config binds.
type listener struct {
	What string // which part of the config
	Host string
	Port int32
}

// listeners lists what the resolved config listens on: OTLP receivers,
// health_check, the topology endpoint, the self-telemetry exporter.
func listeners(t *testing.T, v *podconfig.View) []listener {
	t.Helper()
	var out []listener
	endpoint := func(what, key string) {
		if !v.Config.IsSet(key) {
			return
		}
		s, ok := v.Config.Get(key).(string)
		require.True(t, ok, "%s: %v is not a host:port", key, v.Config.Get(key))
		host, port, err := net.SplitHostPort(s)
		require.NoError(t, err, "%s: %q", key, s)
		n, err := strconv.Atoi(port)
		require.NoError(t, err, "%s: %q", key, s)
		out = append(out, listener{What: what, Host: host, Port: int32(n)})
	}
	endpoint("otlp grpc", "receivers::otlp::protocols::grpc::endpoint")
	endpoint("otlp http", "receivers::otlp::protocols::http::endpoint")
	endpoint("health_check", "extensions::health_check::endpoint")
	endpoint("topology", "extensions::topology::endpoint")
	// stickycheck's split-trace audit (issue 5): the peers' server.
	endpoint("stickycheck peer", "processors::stickycheck::audit::peer::server::endpoint")
	var metrics struct {
		Readers []struct {
			Pull struct {
				Exporter struct {
					Prometheus struct {
						Host string `mapstructure:"host"`
						Port int32  `mapstructure:"port"`
					} `mapstructure:"prometheus"`
				} `mapstructure:"exporter"`
			} `mapstructure:"pull"`
		} `mapstructure:"readers"`
	}
	if v.Config.IsSet("service::telemetry::metrics") {
		require.NoError(t, v.Config.Decode("service::telemetry::metrics", &metrics))
		for _, r := range metrics.Readers {
			if p := r.Pull.Exporter.Prometheus; p.Port != 0 {
				out = append(out, listener{What: "self-telemetry", Host: p.Host, Port: p.Port})
			}
		}
	}
	return out
}

// reachable tells whether a listener on host accepts connections to the
// pod's IP (from a Service, a probe or another pod).
func reachable(host, podIP string) bool {
	return host == podIP || host == "" || host == "0.0.0.0" || host == "::"
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// container is the collector's container of w.
func container(t *testing.T, w workload) *corev1.Container {
	t.Helper()
	c, err := podconfig.Container(w.Spec, w.Container)
	require.NoError(t, err)
	return c
}
