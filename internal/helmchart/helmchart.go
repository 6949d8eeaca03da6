// Package helmchart renders the upstream opentelemetry-collector Helm chart
// with our values files through Helm's Go SDK, as `helm template` does (no
// cluster), and finds the chart: a directory an environment variable names,
// the project's shared copy, or a pull from the chart repository.
package helmchart // import "github.com/otelcol-tiered/otelcol-tiered/internal/helmchart"

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/repo"
	"k8s.io/client-go/kubernetes/scheme"
)

// The chart the values files are written for.
const (
	Name    = "opentelemetry-collector"
	Version = "0.170.0"
	RepoURL = "https://open-telemetry.github.io/opentelemetry-helm-charts"
	// EnvChart names a chart directory (or .tgz) to use instead.
	EnvChart = "OTELCOL_TIERED_HELM_CHART"
)

// SharedDir is where these machines keep the chart, relative to the
// repository root.
var SharedDir = filepath.Join("..", "shared", "charts", Name+"-"+Version)

// Locate returns the chart: $OTELCOL_TIERED_HELM_CHART when set, else
// SharedDir under root when it is there, else the chart pulled from RepoURL
// into cacheDir (kept there for the next run).
func Locate(root, cacheDir string) (*chart.Chart, string, error) {
	if p := os.Getenv(EnvChart); p != "" {
		c, err := load(p)
		return c, p, err
	}
	if p := filepath.Join(root, SharedDir); exists(p) {
		c, err := load(p)
		return c, p, err
	}
	p := filepath.Join(cacheDir, fmt.Sprintf("%s-%s.tgz", Name, Version))
	if !exists(p) {
		if err := pull(p); err != nil {
			return nil, "", fmt.Errorf("chart %s %s: not in $%s nor %s, and the pull failed: %w", Name, Version, EnvChart, filepath.Join(root, SharedDir), err)
		}
	}
	c, err := load(p)
	return c, p, err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func load(p string) (*chart.Chart, error) {
	c, err := loader.Load(p)
	if err != nil {
		return nil, err
	}
	if c.Metadata.Name != Name || c.Metadata.Version != Version {
		return nil, fmt.Errorf("%s is chart %s %s, want %s %s", p, c.Metadata.Name, c.Metadata.Version, Name, Version)
	}
	return c, nil
}

// pull is `helm pull opentelemetry-collector --repo RepoURL --version
// Version`: the chart's URL from the repository's index, then the archive.
func pull(dest string) error {
	providers := getter.Providers{{Schemes: []string{"http", "https"}, New: getter.NewHTTPGetter}}
	url, err := repo.FindChartInRepoURL(RepoURL, Name, Version, "", "", "", providers)
	if err != nil {
		return err
	}
	g, err := getter.NewHTTPGetter()
	if err != nil {
		return err
	}
	buf, err := g.Get(url)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dest, buf.Bytes(), 0o644)
}

// MinKubeVersion is the oldest Kubernetes the manifests run on (the
// gateway's preStop sleep action).
const MinKubeVersion = "v1.30.0"

// Capabilities are those of a cluster of MinKubeVersion serving every API
// the client-go we build with knows, where `helm template` without a cluster
// would assume an old one (policy/v1beta1 PodDisruptionBudgets, say).
func Capabilities() *chartutil.Capabilities {
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: MinKubeVersion, Major: "1", Minor: "30"}
	versions := map[string]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		gv := gvk.GroupVersion().String()
		versions[gv] = true
		versions[gv+"/"+gvk.Kind] = true
	}
	for v := range versions {
		caps.APIVersions = append(caps.APIVersions, v)
	}
	sort.Strings(caps.APIVersions)
	return caps
}

// Render renders c for a release named release in namespace with the
// values files given (later files win, as `helm -f a -f b`), validated
// against the chart's values schema, and returns one YAML document per
// object in Helm's install order, without the chart's notes. cluster
// answers the templates' lookup calls; nil is `helm template`'s: no
// cluster, every lookup empty.
func Render(c *chart.Chart, release, namespace string, cluster engine.ClientProvider, valuesFiles ...string) ([][]byte, error) {
	vals := map[string]any{}
	for _, f := range valuesFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, err
		}
		vals = chartutil.MergeTables(v.AsMap(), vals)
	}
	caps := Capabilities()
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(c, vals, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	render := engine.Render
	if cluster != nil {
		render = func(c *chart.Chart, v chartutil.Values) (map[string]string, error) {
			return engine.RenderWithClientProvider(c, v, cluster)
		}
	}
	files, err := render(c, top)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if filepath.Ext(name) != ".yaml" {
			delete(files, name) // NOTES.txt, helpers
		}
	}
	_, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for _, m := range manifests {
		if d := bytes.TrimSpace([]byte(m.Content)); len(d) > 0 {
			docs = append(docs, append(d, '\n'))
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("the chart rendered no objects")
	}
	return docs, nil
}
