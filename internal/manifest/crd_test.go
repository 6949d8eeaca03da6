package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [mode]
              properties:
                mode: {type: string, enum: [statefulset, deployment]}
                replicas: {type: integer}
                ratio: {type: number}
                enabled: {type: boolean}
                port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
                labels: {type: object, additionalProperties: {type: string}}
                config: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {service: {type: object, properties: {pipelines: {type: object, additionalProperties: {type: object}}}}}}
                env: {type: array, items: {type: object, properties: {name: {type: string}}}}
                nullable: {type: string, nullable: true}
                template: {type: object, x-kubernetes-embedded-resource: true, properties: {spec: {type: object}}}
    - name: v0
      served: false
      schema:
        openAPIV3Schema: {type: object}
`

func widget(spec string) []byte {
	return []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns1, labels: {a: b}}\nspec:\n" + spec)
}

func TestCheckCustomFollowsTheCRDsSchema(t *testing.T) {
	crd, err := ParseCRD([]byte(widgetCRD))
	require.NoError(t, err)
	assert.Equal(t, "Widget", crd.Kind)
	assert.Len(t, crd.Versions, 1, "only served versions")

	valid := `  mode: statefulset
  replicas: 3
  ratio: 0.5
  enabled: true
  port: http
  labels: {x: z}
  config: {receivers: {anything: {goes: 1}}, service: {pipelines: {m: {}}}}
  env: [{name: A}]
  nullable: null
  template: {apiVersion: v1, kind: Pod, spec: {}}
`
	set, err := Decode([][]byte{widget(valid)})
	require.NoError(t, err)
	require.NoError(t, set.CheckCustom(crd))

	for name, tc := range map[string]struct{ spec, want string }{
		"unknown field":         {"  mode: statefulset\n  replica: 3\n", ".spec.replica: unknown field"},
		"unknown nested":        {"  mode: statefulset\n  env: [{name: A, vaule: b}]\n", ".spec.env[0].vaule: unknown field"},
		"typed under preserved": {"  mode: statefulset\n  config: {service: {pipelines: [a]}}\n", ".spec.config.service.pipelines: want an object"},
		"enum":                  {"  mode: daemon\n", `daemon is not one of [statefulset deployment]`},
		"required":              {"  replicas: 3\n", `.spec: required field "mode" is missing`},
		"integer":               {"  mode: statefulset\n  replicas: 2.5\n", ".spec.replicas: want an integer"},
		"string":                {"  mode: statefulset\n  labels: {x: 1}\n", ".spec.labels.x: want a string"},
		"boolean":               {"  mode: statefulset\n  enabled: \"yes\"\n", ".spec.enabled: want a boolean"},
		"int or string":         {"  mode: statefulset\n  port: [1]\n", ".spec.port: want an integer or a string"},
		"null":                  {"  mode: statefulset\n  replicas: null\n", ".spec.replicas: null is not allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			set, err := Decode([][]byte{widget(tc.spec)})
			require.NoError(t, err)
			err = set.CheckCustom(crd)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "Widget ns1/w")
		})
	}

	bad, err := Decode([][]byte{[]byte(strings.Replace(string(widget("  mode: statefulset\n")), "labels: {a: b}", "labelz: {a: b}", 1))})
	require.NoError(t, err)
	assert.ErrorContains(t, bad.CheckCustom(crd), `metadata: json: unknown field "labelz"`)

	v0, err := Decode([][]byte{[]byte("apiVersion: example.com/v0\nkind: Widget\nmetadata: {name: w}\n")})
	require.NoError(t, err)
	assert.ErrorContains(t, v0.CheckCustom(crd), "no CRD serves example.com/v0")
}

func TestParseCRDRejectsOtherKinds(t *testing.T) {
	_, err := ParseCRD([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	assert.ErrorContains(t, err, `kind is "ConfigMap"`)
	_, err = ParseCRD([]byte("kind: CustomResourceDefinition\nspec: {group: g}\n"))
	assert.ErrorContains(t, err, "group, kind and a served version")
}
