package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
          ports:
            - containerPort: 8080
`

func TestDecodeIsStrict(t *testing.T) {
	set, err := Decode([][]byte{[]byte(deployment)})
	require.NoError(t, err)
	d, err := Get[*appsv1.Deployment](set, "web")
	require.NoError(t, err)
	assert.Equal(t, int32(8080), d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort)
	assert.Equal(t, "Deployment apps/web", set.Objects[0].String())

	for name, tc := range map[string]struct{ doc, want string }{
		"unknown field":   {replace(deployment, "containerPort: 8080", "containerPort: 8080\n              hostPorts: 80"), `unknown field "spec.template.spec.containers[0].ports[0].hostPorts"`},
		"wrong case":      {replace(deployment, "containerPort", "containerport"), `unknown field "spec.template.spec.containers[0].ports[0].containerport"`},
		"duplicate field": {replace(deployment, "image: web:1", "image: web:1\n          image: web:2"), `key "image" already set`},
		"wrong type":      {replace(deployment, "containerPort: 8080", "containerPort: http"), "containerPort"},
		"no name":         {replace(deployment, "name: web\n  namespace", "namespace"), "Deployment without metadata.name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([][]byte{[]byte(tc.doc)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDecodeLeavesCustomResourcesToTheirCRD(t *testing.T) {
	set, err := Decode([][]byte{[]byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: 1}\n")})
	require.NoError(t, err)
	require.Len(t, set.Objects, 1)
	assert.True(t, set.Objects[0].Custom)
	assert.ErrorContains(t, set.CheckCustom(), "no CRD serves example.com/v1, Kind=Widget")
}

func TestRenderAndLookups(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	write("kustomization.yaml", "namespace: apps\nresources: [deploy.yaml]\nconfigMapGenerator:\n  - name: settings\n    files: [app.conf]\n")
	write("deploy.yaml", deployment)
	write("app.conf", "level: debug\n")
	docs, err := Render(dir)
	require.NoError(t, err)
	set, err := Decode(docs)
	require.NoError(t, err)
	assert.Len(t, All[*appsv1.Deployment](set), 1)
	cms := set.ConfigMaps()
	require.Len(t, cms, 1)
	for name, cm := range cms {
		assert.Regexp(t, `^settings-[a-z0-9]+$`, name, "the generator's name carries the content's hash")
		assert.Equal(t, "level: debug\n", cm.Data["app.conf"])
	}
	_, err = Get[*corev1.Service](set, "web")
	assert.ErrorContains(t, err, `no *v1.Service named "web"`)
	assert.Contains(t, string(Join(docs)), "---\n")

	_, err = Render(filepath.Join(dir, "nope"))
	assert.Error(t, err)
	_, err = Overlays(dir)
	assert.Error(t, err, "no overlays/ directory")
}

func replace(s, old, repl string) string {
	if !strings.Contains(s, old) {
		panic("replace: " + old + " not found")
	}
	return strings.Replace(s, old, repl, 1)
}
