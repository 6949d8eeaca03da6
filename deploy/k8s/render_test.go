package k8s_test

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/otelcol-tiered/otelcol-tiered/internal/manifest"
)

// What each overlay deploys: the collector tiers it runs, and whether it
// holds the operator's custom resource. A new overlay must be added here.
var overlayTiers = map[string]struct {
	tiers    []string
	operator bool
	ns       string
}{
	"agent":      {tiers: []string{"agent"}, ns: namespace},
	"gateway":    {tiers: []string{"gateway"}, ns: namespace},
	"hybrid":     {tiers: []string{"agent", "gateway"}, ns: namespace},
	"hybrid-dns": {tiers: []string{"agent", "gateway"}, ns: namespace},
	"sidecar":    {tiers: []string{"sidecar"}, ns: ""}, // the application's namespace
	"operator":   {operator: true, ns: namespace},
}

var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true}

func TestEveryOverlayRendersAndDecodesStrictly(t *testing.T) {
	var names []string
	for name := range overlayTiers {
		names = append(names, name)
	}
	sort.Strings(names)
	require.Equal(t, names, overlays(t), "the overlays under deploy/k8s/overlays")

	for _, o := range overlays(t) {
		t.Run(o, func(t *testing.T) {
			want := overlayTiers[o]
			set := render(t, o) // fails on any unknown or duplicate field
			var tiers []string
			for _, w := range workloads(set) {
				tiers = append(tiers, w.Tier)
			}
			sort.Strings(tiers)
			assert.Equal(t, want.tiers, tiers, "the collector tiers it deploys")
			var custom []string
			for _, obj := range set.Objects {
				if obj.Custom {
					custom = append(custom, obj.String())
				}
				if clusterScoped[obj.GVK.Kind] {
					assert.Empty(t, obj.Namespace, "%s is cluster-scoped", obj)
					continue
				}
				assert.Equal(t, want.ns, obj.Namespace, "%s", obj)
			}
			// What the API server's validation would refuse beyond unknown
			// fields: a container without an image, a selector that does
			// not select the template's pods.
			for _, w := range podTemplates(set) {
				for _, c := range append(append([]corev1.Container{}, w.spec.InitContainers...), w.spec.Containers...) {
					assert.NotEmpty(t, c.Image, "%s: container %s has no image", w.name, c.Name)
				}
				if w.selector != nil {
					sel, err := metav1.LabelSelectorAsSelector(w.selector)
					require.NoError(t, err)
					assert.True(t, sel.Matches(labels.Set(w.labels)), "%s: the selector does not select its own pods", w.name)
				}
			}
			if want.operator {
				assert.Equal(t, []string{"OpenTelemetryCollector observability/otel-prometheus"}, custom)
			} else {
				assert.Empty(t, custom, "custom resources (checked against their CRD in the operator test only)")
			}
		})
	}
}

// One source of truth: each collector's config is configs/<tier>.yaml, byte
// for byte, from the ConfigMap the generator made of its copy beside the
// kustomization, at the path the image's layout gives the tier.
func TestTierConfigsAreGeneratedFromConfigsDirectory(t *testing.T) {
	for _, tierName := range []string{"agent", "gateway", "sidecar"} {
		for o, w := range tier(t, tierName) {
			t.Run(o+"/"+tierName, func(t *testing.T) {
				v := w.view(t, render(t, o), 0)
				assert.Equal(t, "/etc/otelcol-tiered/"+tierName+".yaml", v.ConfigPath)
				assert.Equal(t, readFile(t, filepath.Join(repoRoot, "configs", tierName+".yaml")), v.ConfigText)
				for _, vol := range w.Spec.Volumes {
					if vol.ConfigMap != nil {
						assert.Regexp(t, `^otel-`+tierName+`-config-[a-z0-9]{10}$`, vol.ConfigMap.Name,
							"a generated name: a config change rolls the pods")
					}
				}
			})
		}
	}

	// And no other copy of a tier config anywhere under deploy/k8s than the
	// generated ones: only the operator's resource carries a config of its
	// own.
	copies := map[string]bool{}
	for _, c := range manifest.Copies {
		copies[filepath.FromSlash(c.Dest)] = true
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path == "rendered" {
			return filepath.SkipDir // make k8s-render's output
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		generated := copies[filepath.Join("deploy", "k8s", path)]
		if strings.Contains(readFile(t, path), "pipelines:") && !generated && path != filepath.Join("tiers", "operator", "collector.yaml") {
			t.Errorf("%s holds a collector config: generate it from configs/ instead", path)
		}
		return nil
	})
	require.NoError(t, err)
}

// imageVersion is the image tag of this release: the Makefile's VERSION.
func imageVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^VERSION\s*:=\s*(\S+)`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot, "Makefile")))
	require.NotNil(t, m, "VERSION in the Makefile")
	return m[1]
}

// The collectors run this release's image of their tier (make images), with
// its entrypoint. The operator's collector (the prometheus receiver, in no
// tier's config and so in no tier image) runs the all-in-one.
func TestCollectorsRunThisReleasesImage(t *testing.T) {
	version := imageVersion(t)
	for _, o := range overlays(t) {
		set := render(t, o)
		for _, w := range workloads(set) {
			c := container(t, w)
			require.Contains(t, []string{"agent", "gateway", "sidecar"}, w.Tier, "%s: %s %s: its tier label", o, w.Kind, w.Name)
			assert.Equal(t, "otelcol-tiered-"+w.Tier+":"+version, c.Image, "%s: %s %s runs its tier's image", o, w.Kind, w.Name)
			assert.Empty(t, c.Command, "%s: %s %s runs the image's entrypoint", o, w.Kind, w.Name)
		}
		for _, u := range manifest.All[*unstructured.Unstructured](set) {
			got, _, _ := unstructured.NestedString(u.Object, "spec", "image")
			assert.Equal(t, "otelcol-tiered:"+version, got, "%s: %s %s: the all-in-one", o, u.GetKind(), u.GetName())
		}
	}
}

// Every variable a config reads without a default is set, and no $(VAR)
// reference is left unexpanded (a variable used above its definition).
func TestEveryVariableTheConfigsReadIsSet(t *testing.T) {
	for _, tierName := range []string{"agent", "gateway", "sidecar"} {
		for o, w := range tier(t, tierName) {
			v := w.view(t, render(t, o), 0)
			assert.Empty(t, v.Config.Unset, "%s/%s: read unset", o, tierName)
			for name, val := range v.Env {
				assert.NotContains(t, val, "$(", "%s/%s: env %s", o, tierName, name)
			}
		}
	}
}

// One `kubectl apply -f` of a rendered overlay creates what a workload uses
// before the workload: namespace, accounts and roles, ConfigMaps, Services.
func TestOverlaysApplyInDependencyOrder(t *testing.T) {
	workloadKinds := map[string]bool{"DaemonSet": true, "StatefulSet": true, "Deployment": true, "Pod": true, "OpenTelemetryCollector": true}
	for _, o := range overlays(t) {
		seenWorkload := ""
		for _, obj := range render(t, o).Objects {
			switch {
			case workloadKinds[obj.GVK.Kind]:
				seenWorkload = obj.String()
			// What only acts on running pods may follow them; a
			// NetworkPolicy, in legacy order after the workloads, is
			// posted by the same apply before any pod has started.
			case seenWorkload != "" && !strings.Contains("HorizontalPodAutoscaler PodDisruptionBudget NetworkPolicy", obj.GVK.Kind):
				t.Errorf("%s: %s comes after %s, which needs it", o, obj, seenWorkload)
			}
		}
	}
}

type podTemplate struct {
	name     string
	selector *metav1.LabelSelector
	labels   map[string]string
	spec     corev1.PodSpec
}

func podTemplates(set *manifest.Set) []podTemplate {
	var out []podTemplate
	for _, d := range manifest.All[*appsv1.DaemonSet](set) {
		out = append(out, podTemplate{"DaemonSet " + d.Name, d.Spec.Selector, d.Spec.Template.Labels, d.Spec.Template.Spec})
	}
	for _, s := range manifest.All[*appsv1.StatefulSet](set) {
		out = append(out, podTemplate{"StatefulSet " + s.Name, s.Spec.Selector, s.Spec.Template.Labels, s.Spec.Template.Spec})
	}
	for _, d := range manifest.All[*appsv1.Deployment](set) {
		out = append(out, podTemplate{"Deployment " + d.Name, d.Spec.Selector, d.Spec.Template.Labels, d.Spec.Template.Spec})
	}
	for _, p := range manifest.All[*corev1.Pod](set) {
		out = append(out, podTemplate{"Pod " + p.Name, nil, p.Labels, p.Spec})
	}
	return out
}

// configs/ stays the one source: every generated copy of a tier config
// (kustomize's, beside each tier's kustomization; Helm's values files) is
// what `make k8s-configs` makes of configs/ now.
func TestGeneratedConfigCopiesAreInStep(t *testing.T) {
	require.NoError(t, manifest.Stale(repoRoot, manifest.Copies))
	var kustomize int
	for _, c := range manifest.Copies {
		if strings.HasPrefix(c.Dest, "deploy/k8s/") {
			kustomize++
		}
	}
	assert.Equal(t, 4, kustomize, "agent, gateway and sidecar for kustomize, and the agent's persistent-queue overlay")
}

// Plain `kubectl apply -k deploy/k8s/overlays/<overlay>`, Argo CD and Flux:
// kustomize with its default options, the load restrictor on (no file
// outside a kustomization's root), builds every overlay, to the objects
// the tests check.
func TestEveryOverlayBuildsWithKustomizesDefaultOptions(t *testing.T) {
	opts := krusty.MakeDefaultOptions()
	require.Equal(t, types.LoadRestrictionsRootOnly, opts.LoadRestrictions, "kustomize's default load restrictor")
	for _, o := range overlays(t) {
		t.Run(o, func(t *testing.T) {
			res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join("overlays", o))
			require.NoError(t, err)
			var got [][]byte
			for _, r := range res.Resources() {
				y, err := r.AsYAML()
				require.NoError(t, err)
				got = append(got, y)
			}
			want, err := manifest.Render(filepath.Join("overlays", o))
			require.NoError(t, err)
			assert.Equal(t, string(manifest.Join(want)), string(manifest.Join(got)), "the objects the tests check")
		})
	}
}
