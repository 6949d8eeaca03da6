package k8s_test

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
	"github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"
	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"
)

func init() {
	// client-go's fake clientset sends no bookmark events, which the
	// WatchListClient feature waits for (kubernetes/kubernetes#129408).
	_ = os.Setenv("KUBE_FEATURE_WatchListClient", "false")
}

const (
	headlessService = "otel-gateway-headless"
	gatewayService  = "otel-gateway"
	// stickycheckPeerPort is where gateways reach each other for the
	// split-trace audit (issue 5): pod IP:4319.
	stickycheckPeerPort = 4319
)

// gatewayReplicas are the replicas the tests pretend run.
const gatewayReplicas = 3

func statefulSet(t *testing.T, set *manifest.Set, w workload) *appsv1.StatefulSet {
	t.Helper()
	require.Equal(t, "StatefulSet", w.Kind, "the gateway runs as a StatefulSet (stable identity)")
	ss, err := manifest.Get[*appsv1.StatefulSet](set, w.Name)
	require.NoError(t, err)
	return ss
}

func selects(t *testing.T, selector map[string]string, w workload) bool {
	t.Helper()
	require.NotEmpty(t, selector, "an empty selector selects nothing (Service) or everything (PDB)")
	return labels.SelectorFromSet(selector).Matches(labels.Set(w.Meta.Labels))
}

func TestHeadlessServiceSelectsGatewayPods(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			ss := statefulSet(t, set, w)
			svc, err := manifest.Get[*corev1.Service](set, headlessService)
			require.NoError(t, err)
			assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP, "headless: DNS and EndpointSlices give the pods, not a virtual IP")
			assert.Equal(t, svc.Name, ss.Spec.ServiceName, "the StatefulSet's governing Service")
			assert.True(t, selects(t, svc.Spec.Selector, w), "selects the gateway pods")
			for _, other := range workloads(set) {
				if other.Tier != "gateway" {
					assert.False(t, selects(t, svc.Spec.Selector, other), "selects no %s pod", other.Tier)
				}
			}

			c := container(t, w)
			ports := map[int32]int32{}
			for _, p := range svc.Spec.Ports {
				target, err := containerPort(c, p.TargetPort)
				require.NoError(t, err, "port %s", p.Name)
				ports[p.Port] = target
			}
			assert.Equal(t, map[int32]int32{4317: 4317, stickycheckPeerPort: stickycheckPeerPort}, ports,
				"OTLP gRPC for the agents' resolver, and the stickycheck peer port")
			for _, cp := range c.Ports {
				if cp.ContainerPort == stickycheckPeerPort {
					assert.Equal(t, "stickycheck", cp.Name)
				}
			}

			regular, err := manifest.Get[*corev1.Service](set, gatewayService)
			require.NoError(t, err)
			assert.NotEqual(t, corev1.ClusterIPNone, regular.Spec.ClusterIP, "a virtual IP for metrics and logs")
			assert.True(t, selects(t, regular.Spec.Selector, w))
			var got []int32
			for _, p := range regular.Spec.Ports {
				got = append(got, p.Port)
			}
			for _, want := range []int32{4317, 4318, 8888, 13133} {
				assert.Contains(t, got, want, "the gateway Service's ports")
			}
		})
	}
}

// endpointSlice is what Kubernetes' EndpointSlice controller publishes for a
// Service: the IP of every pod its selector matches, ready or not.
func endpointSlice(t *testing.T, svc *corev1.Service, pods []podconfig.Pod, podLabels []map[string]string, c *corev1.Container) *discoveryv1.EndpointSlice {
	t.Helper()
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name + "-abcde", Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range svc.Spec.Ports {
		port, err := containerPort(c, p.TargetPort)
		require.NoError(t, err)
		eps.Ports = append(eps.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(port)})
	}
	for i, p := range pods {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels[i])) {
			eps.Endpoints = append(eps.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{p.PodIP}, Hostname: ptr.To(p.Name),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(i != 0)}, // one not ready yet
			})
		}
	}
	return eps
}

// members runs our ring package's resolver (proven against the upstream
// load-balancing exporter's) on a resolver block, against a cluster holding
// the rendered headless Service's EndpointSlice.
func members(t *testing.T, cfg ring.ResolverConfig, eps *discoveryv1.EndpointSlice) []string {
	t.Helper()
	require.NoError(t, cfg.Check())
	client := fake.NewClientset()
	_, err := client.DiscoveryV1().EndpointSlices(eps.Namespace).Create(context.Background(), eps, metav1.CreateOptions{})
	require.NoError(t, err)
	r, err := ring.NewResolver(cfg, zap.NewNop(), client)
	require.NoError(t, err)
	got := make(chan []string, 8)
	r.OnChange(func(m []string) { got <- m })
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the resolver published no member list")
		return nil
	}
}

// dnsMembers is what the dns resolver publishes for the headless Service:
// each ready pod's IP, with the configured port.
func dnsMembers(t *testing.T, dns ring.DNSConfig, svc *corev1.Service, eps *discoveryv1.EndpointSlice) []string {
	t.Helper()
	name, ns, ok := strings.Cut(strings.TrimSuffix(dns.Hostname, "."), ".")
	require.True(t, ok, "dns::hostname %q names the Service's namespace", dns.Hostname)
	ns = strings.TrimSuffix(strings.TrimSuffix(ns, ".svc.cluster.local"), ".svc")
	assert.Equal(t, svc.Name+"."+svc.Namespace, name+"."+ns, "dns::hostname names the headless Service")
	var out []string
	for _, ep := range eps.Endpoints {
		if *ep.Conditions.Ready {
			out = append(out, net.JoinHostPort(ep.Addresses[0], dns.Port))
		}
	}
	slices.Sort(out)
	return out
}

// The gateways' stickycheck resolves the same headless Service as the
// agents, and each replica names itself by its pod IP, exactly as the ring's
// members are named.
func TestStickycheckResolverNamesTheHeadlessServiceAndSelfIsThePodIP(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) { assertGatewayRing(t, render(t, o), w, headlessService) })
	}
}

// assertGatewayRing: w's stickycheck resolves the headless Service of set,
// and its members, each replica as it names itself (its pod IP), are the
// ring's.
func assertGatewayRing(t *testing.T, set *manifest.Set, w workload, headless string) {
	t.Helper()
	svc, err := manifest.Get[*corev1.Service](set, headless)
	require.NoError(t, err)
	var pods []podconfig.Pod
	var podLabels []map[string]string
	var selves []string
	var cfgs []*stickycheckprocessor.Config
	for i := range gatewayReplicas {
		v := w.view(t, set, i)
		cfg, err := v.Config.Component("processors::stickycheck", stickycheckprocessor.NewFactory())
		require.NoError(t, err)
		sc := cfg.(*stickycheckprocessor.Config)
		host, _, err := net.SplitHostPort(sc.Self)
		require.NoError(t, err, "self %q", sc.Self)
		assert.Equal(t, w.pod(i).PodIP, host, "self comes from the pod IP")
		assert.False(t, sc.ResolveSelf, "the pod IP needs no resolving")
		pods, podLabels = append(pods, w.pod(i)), append(podLabels, w.Meta.Labels)
		selves, cfgs = append(selves, sc.Self), append(cfgs, sc)
	}
	// An agent pod too, which the Service must not pick up.
	for _, a := range workloads(set) {
		if a.Tier == "agent" {
			pods, podLabels = append(pods, a.pod(0)), append(podLabels, a.Meta.Labels)
		}
	}
	eps := endpointSlice(t, svc, pods, podLabels, container(t, w))
	res := cfgs[0].Resolver
	var got []string
	switch {
	case res.K8s.HasValue():
		k := res.K8s.Get()
		assert.Equal(t, svc.Name+"."+svc.Namespace, k.Service, "k8s::service names the headless Service")
		got = members(t, res, eps)
	case res.DNS.HasValue():
		got = dnsMembers(t, *res.DNS.Get(), svc, eps)
		selves = selves[1:] // replica 0 is not ready: DNS leaves it out
	default:
		t.Fatalf("stickycheck's resolver is neither k8s nor dns: %+v", res)
	}
	slices.Sort(selves)
	assert.Equal(t, selves, got, "the ring's members are the replicas, each as it names itself")
}

func TestGatewayHPAScalesOnMemoryAndKeepsThreeReplicas(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			ss := statefulSet(t, set, w)
			hpas := manifest.All[*autoscalingv2.HorizontalPodAutoscaler](set)
			require.Len(t, hpas, 1)
			hpa := hpas[0]
			assert.Equal(t, autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: ss.Name}, hpa.Spec.ScaleTargetRef)
			require.NotNil(t, hpa.Spec.MinReplicas)
			assert.GreaterOrEqual(t, *hpa.Spec.MinReplicas, int32(3), "3 replicas minimum")
			assert.GreaterOrEqual(t, hpa.Spec.MaxReplicas, *hpa.Spec.MinReplicas)
			require.NotNil(t, ss.Spec.Replicas)
			assert.GreaterOrEqual(t, *ss.Spec.Replicas, *hpa.Spec.MinReplicas)

			targets := map[corev1.ResourceName]int32{}
			for _, m := range hpa.Spec.Metrics {
				if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
					targets[m.Resource.Name] = *m.Resource.Target.AverageUtilization
				}
			}
			require.Contains(t, targets, corev1.ResourceMemory, "HPA on memory")
			require.Contains(t, targets, corev1.ResourceCPU, "HPA on CPU")

			// Utilization is of the requests; the HPA must act before
			// memory_limiter starts refusing data at its soft limit.
			c := container(t, w)
			req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
			require.False(t, req.IsZero() || lim.IsZero(), "memory request and limit are set")
			require.False(t, c.Resources.Requests.Cpu().IsZero(), "a CPU request is set")
			scaleAt := req.Value() * int64(targets[corev1.ResourceMemory]) / 100
			soft := memoryLimiterSoftLimit(t, w.view(t, set, 0), lim.Value())
			assert.Less(t, scaleAt, soft, "scale-out at %s, memory_limiter's soft limit at %s",
				resource.NewQuantity(scaleAt, resource.BinarySI), resource.NewQuantity(soft, resource.BinarySI))
		})
	}
}

// memoryLimiterSoftLimit is the memory (bytes) above which memory_limiter
// refuses data, for a container memory limit.
func memoryLimiterSoftLimit(t *testing.T, v *podconfig.View, limit int64) int64 {
	t.Helper()
	var ml struct {
		LimitMiB             int64 `mapstructure:"limit_mib"`
		SpikeLimitMiB        int64 `mapstructure:"spike_limit_mib"`
		LimitPercentage      int64 `mapstructure:"limit_percentage"`
		SpikeLimitPercentage int64 `mapstructure:"spike_limit_percentage"`
	}
	require.NoError(t, v.Config.Decode("processors::memory_limiter", &ml))
	if ml.LimitMiB > 0 {
		return (ml.LimitMiB - ml.SpikeLimitMiB) << 20
	}
	require.Positive(t, ml.LimitPercentage, "memory_limiter sets a limit")
	return limit * (ml.LimitPercentage - ml.SpikeLimitPercentage) / 100
}

func TestGatewayPDBExists(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			pdbs := manifest.All[*policyv1.PodDisruptionBudget](set)
			require.Len(t, pdbs, 1)
			pdb := pdbs[0]
			require.NotNil(t, pdb.Spec.Selector)
			assert.True(t, selects(t, pdb.Spec.Selector.MatchLabels, w))
			for _, other := range workloads(set) {
				if other.Tier != "gateway" {
					assert.False(t, selects(t, pdb.Spec.Selector.MatchLabels, other))
				}
			}
			// One eviction at a time out of the 3: never all, never none.
			replicas := *statefulSet(t, set, w).Spec.Replicas
			allowed := int32(0)
			switch {
			case pdb.Spec.MaxUnavailable != nil:
				allowed = pdb.Spec.MaxUnavailable.IntVal
			case pdb.Spec.MinAvailable != nil:
				allowed = replicas - pdb.Spec.MinAvailable.IntVal
			}
			assert.Equal(t, int32(1), allowed, "disruptions allowed at %d replicas", replicas)
		})
	}
}

// When a replica stops, the kubelet gives it terminationGracePeriodSeconds
// in all: the preStop sleep (agents stop sending), then tail sampling's
// decision_wait for the traces that arrived last, then the export of the
// decisions, each call bounded by its exporter's timeout.
func TestGatewayGracePeriodCoversDecisionWaitAndExportTimeout(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			v := w.view(t, set, 0)
			var ts struct {
				DecisionWait time.Duration `mapstructure:"decision_wait"`
			}
			require.NoError(t, v.Config.Decode("processors::tail_sampling", &ts))
			require.Positive(t, ts.DecisionWait, "tail_sampling::decision_wait is set explicitly")

			var pipeline struct {
				Processors []string `mapstructure:"processors"`
				Exporters  []string `mapstructure:"exporters"`
			}
			require.NoError(t, v.Config.Decode("service::pipelines::traces", &pipeline))
			require.Contains(t, pipeline.Processors, "tail_sampling")
			var timeout time.Duration
			for _, id := range pipeline.Exporters {
				typ, _, _ := strings.Cut(id, "/")
				require.Equal(t, "otlp_grpc", typ, "exporter %s: add its timeout to this check", id)
				cfg, err := v.Config.Component("exporters::"+id, otlpexporter.NewFactory())
				require.NoError(t, err)
				timeout = max(timeout, cfg.(*otlpexporter.Config).TimeoutConfig.Timeout)
			}
			require.Positive(t, timeout)

			spec := statefulSet(t, set, w).Spec.Template.Spec
			var preStop time.Duration
			if h := container(t, w).Lifecycle; h != nil && h.PreStop != nil {
				require.NotNil(t, h.PreStop.Sleep, "preStop: a sleep (the image has no shell)")
				preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
			}
			assert.Positive(t, preStop, "a preStop delay")
			require.NotNil(t, spec.TerminationGracePeriodSeconds)
			grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
			need := preStop + ts.DecisionWait + timeout
			assert.GreaterOrEqual(t, grace, need, "grace %s < preStop %s + decision_wait %s + export timeout %s", grace, preStop, ts.DecisionWait, timeout)
			t.Logf("grace %s >= preStop %s + decision_wait %s + export timeout %s", grace, preStop, ts.DecisionWait, timeout)
		})
	}
}

func TestGatewayQueueIsOnItsVolumeWritableByTheCollector(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			v := w.view(t, set, 0)
			ss := statefulSet(t, set, w)
			var fs struct {
				Directory string `mapstructure:"directory"`
			}
			require.NoError(t, v.Config.Decode("extensions::file_storage", &fs))
			var exporter struct {
				SendingQueue struct {
					Storage string `mapstructure:"storage"`
				} `mapstructure:"sending_queue"`
			}
			require.NoError(t, v.Config.Decode("exporters::otlp_grpc/backend", &exporter))
			assert.Equal(t, "storageguard", exporter.SendingQueue.Storage, "the backend queue is persisted, through storageguard")
			var guard struct {
				Storage string `mapstructure:"storage"`
			}
			require.NoError(t, v.Config.Decode("extensions::storageguard", &guard))
			assert.Equal(t, "file_storage", guard.Storage, "storageguard guards file_storage")

			var mount *corev1.VolumeMount
			for i, m := range container(t, w).VolumeMounts {
				if m.MountPath == fs.Directory {
					mount = &container(t, w).VolumeMounts[i]
				}
			}
			require.NotNil(t, mount, "a volume is mounted at file_storage's directory %s", fs.Directory)
			assert.False(t, mount.ReadOnly)
			var claim *corev1.PersistentVolumeClaim
			for i, c := range ss.Spec.VolumeClaimTemplates {
				if c.Name == mount.Name {
					claim = &ss.Spec.VolumeClaimTemplates[i]
				}
			}
			require.NotNil(t, claim, "the volume at %s is the StatefulSet's claim, kept across restarts", fs.Directory)
			assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, claim.Spec.AccessModes)

			psc := ss.Spec.Template.Spec.SecurityContext
			require.NotNil(t, psc)
			assert.Equal(t, ptr.To(int64(10001)), psc.FSGroup, "the claim is group-writable by the image's user")
			assert.Equal(t, ptr.To(int64(10001)), psc.RunAsUser)
			assert.Equal(t, ptr.To(true), psc.RunAsNonRoot)
		})
	}
}
