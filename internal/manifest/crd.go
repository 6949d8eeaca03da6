package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// CRD is what CheckCustom needs of an apiextensions.k8s.io/v1
// CustomResourceDefinition: its group, kind and each served version's
// structural schema.
type CRD struct {
	Group    string
	Kind     string
	Versions map[string]*Schema
}

// Schema is the part of a CRD's structural OpenAPI v3 schema that decides
// which fields and values an object may hold.
type Schema struct {
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Properties           map[string]*Schema `json:"properties"`
	AdditionalProperties *SchemaOrBool      `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
	Required             []string           `json:"required"`
	Enum                 []any              `json:"enum"`
	Nullable             bool               `json:"nullable"`
	PreserveUnknown      bool               `json:"x-kubernetes-preserve-unknown-fields"`
	IntOrString          bool               `json:"x-kubernetes-int-or-string"`
	EmbeddedResource     bool               `json:"x-kubernetes-embedded-resource"`
}

// SchemaOrBool is additionalProperties: a schema for every extra key, or
// true/false.
type SchemaOrBool struct {
	Allows bool
	Schema *Schema
}

func (s *SchemaOrBool) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &s.Allows); err == nil {
		return nil
	}
	s.Allows = true
	return json.Unmarshal(b, &s.Schema)
}

// ParseCRD reads a CustomResourceDefinition (YAML or JSON).
func ParseCRD(doc []byte) (*CRD, error) {
	var raw struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema *Schema `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("CRD: %w", err)
	}
	if raw.Kind != "CustomResourceDefinition" {
		return nil, fmt.Errorf("CRD: kind is %q, want CustomResourceDefinition", raw.Kind)
	}
	crd := &CRD{Group: raw.Spec.Group, Kind: raw.Spec.Names.Kind, Versions: map[string]*Schema{}}
	for _, v := range raw.Spec.Versions {
		if v.Served && v.Schema.OpenAPIV3Schema != nil {
			crd.Versions[v.Name] = v.Schema.OpenAPIV3Schema
		}
	}
	if crd.Group == "" || crd.Kind == "" || len(crd.Versions) == 0 {
		return nil, errors.New("CRD: group, kind and a served version with a schema are required")
	}
	return crd, nil
}

// CheckCustom checks every custom resource of the set against its CRD among
// crds, the way the API server does with field validation Strict: a field
// the schema does not declare, a value of the wrong type or outside its
// enum, or a missing required field is an error. A custom resource whose
// kind or version no CRD serves is an error too.
func (s *Set) CheckCustom(crds ...*CRD) error {
	var errs []error
	for _, o := range s.Objects {
		if !o.Custom {
			continue
		}
		schema := findSchema(crds, o.GVK.Group, o.GVK.Version, o.GVK.Kind)
		if schema == nil {
			errs = append(errs, fmt.Errorf("%s: no CRD serves %s", o, o.GVK))
			continue
		}
		u := o.Obj.(*unstructured.Unstructured)
		if err := ValidateObject(schema, u.Object); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	return errors.Join(errs...)
}

func findSchema(crds []*CRD, group, version, kind string) *Schema {
	for _, c := range crds {
		if c.Group == group && c.Kind == kind {
			return c.Versions[version]
		}
	}
	return nil
}

// ValidateObject checks a whole custom resource against its version's
// schema: apiVersion, kind and metadata are the API server's (metadata must
// decode strictly into ObjectMeta), the rest follows the schema.
func ValidateObject(schema *Schema, obj map[string]any) error {
	var errs []error
	if md, ok := obj["metadata"]; ok {
		if err := strictObjectMeta(md); err != nil {
			errs = append(errs, fmt.Errorf("metadata: %w", err))
		}
	}
	rest := map[string]any{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			rest[k] = v
		}
	}
	root := *schema
	root.Properties = map[string]*Schema{}
	for k, v := range schema.Properties {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			root.Properties[k] = v
		}
	}
	var v validator
	v.check(&root, rest, "")
	errs = append(errs, v.errs...)
	return errors.Join(errs...)
}

func strictObjectMeta(md any) error {
	b, err := json.Marshal(md)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var meta metav1.ObjectMeta
	return dec.Decode(&meta)
}

type validator struct {
	errs []error
}

func (v *validator) fail(path, format string, args ...any) {
	if path == "" {
		path = "."
	}
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) check(s *Schema, val any, path string) {
	if val == nil {
		if !s.Nullable && !s.PreserveUnknown {
			v.fail(path, "null is not allowed")
		}
		return
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return sameValue(e, val) }) {
		v.fail(path, "%v is not one of %v", val, s.Enum)
	}
	if s.IntOrString {
		switch val.(type) {
		case string, int64, int, float64:
			if f, ok := val.(float64); ok && f != math.Trunc(f) {
				v.fail(path, "want an integer or a string, got %v", val)
			}
		default:
			v.fail(path, "want an integer or a string, got %T", val)
		}
		return
	}
	switch s.Type {
	case "object":
		m, ok := val.(map[string]any)
		if !ok {
			v.fail(path, "want an object, got %T", val)
			return
		}
		v.checkObject(s, m, path)
	case "array":
		a, ok := val.([]any)
		if !ok {
			v.fail(path, "want an array, got %T", val)
			return
		}
		if s.Items != nil {
			for i, e := range a {
				v.check(s.Items, e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case "string":
		if _, ok := val.(string); !ok {
			v.fail(path, "want a string, got %T", val)
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.fail(path, "want a boolean, got %T", val)
		}
	case "integer":
		switch n := val.(type) {
		case int64, int, int32:
		case float64:
			if n != math.Trunc(n) {
				v.fail(path, "want an integer, got %v", n)
			}
		default:
			v.fail(path, "want an integer, got %T", val)
		}
	case "number":
		switch val.(type) {
		case int64, int, int32, float64:
		default:
			v.fail(path, "want a number, got %T", val)
		}
	case "":
		// Untyped: only with x-kubernetes-preserve-unknown-fields, which
		// allows any value.
		if !s.PreserveUnknown {
			v.fail(path, "the schema gives no type here")
		}
	default:
		v.fail(path, "unknown schema type %q", s.Type)
	}
}

func (v *validator) checkObject(s *Schema, m map[string]any, path string) {
	for _, r := range s.Required {
		if _, ok := m[r]; !ok {
			v.fail(path, "required field %q is missing", r)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := path + "." + k
		if p, ok := s.Properties[k]; ok {
			v.check(p, m[k], sub)
			continue
		}
		if s.EmbeddedResource && (k == "apiVersion" || k == "kind" || k == "metadata") {
			continue
		}
		switch {
		case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
			v.check(s.AdditionalProperties.Schema, m[k], sub)
		case s.AdditionalProperties != nil && s.AdditionalProperties.Allows, s.PreserveUnknown:
		default:
			v.fail(sub, "unknown field (the CRD's schema does not declare it)")
		}
	}
}

// sameValue compares an enum entry with a value, numbers by value.
func sameValue(a, b any) bool {
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum || bNum {
		return aNum && bNum && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func number(x any) (float64, bool) {
	switch n := x.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
