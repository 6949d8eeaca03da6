package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Object is one rendered object: a k8s.io/api type for the built-in kinds, an
// *unstructured.Unstructured for custom resources (checked against their CRD
// by CheckCustom).
type Object struct {
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	Obj       runtime.Object
	Custom    bool
}

func (o Object) String() string {
	id := o.GVK.Kind + " " + o.Name
	if o.Namespace != "" {
		id = o.GVK.Kind + " " + o.Namespace + "/" + o.Name
	}
	return id
}

// Set is what an overlay renders to.
type Set struct {
	Objects []Object
}

// strict decodes YAML the way the API server does with field validation
// Strict: unknown fields, duplicate fields and fields of the wrong case are
// errors, not silently dropped.
var strict = serjson.NewSerializerWithOptions(serjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	serjson.SerializerOptions{Yaml: true, Strict: true})

// Decode decodes every document: kinds known to client-go's scheme strictly
// into their k8s.io/api type; other kinds (custom resources) into
// unstructured objects, marked Custom. Every document must name its
// apiVersion, kind and metadata.name.
func Decode(docs [][]byte) (*Set, error) {
	set := &Set{}
	var errs []error
	for i, doc := range docs {
		obj, err := decodeOne(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		set.Objects = append(set.Objects, obj)
	}
	return set, errors.Join(errs...)
}

func decodeOne(doc []byte) (Object, error) {
	var u unstructured.Unstructured
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return Object{}, err
	}
	if err := u.UnmarshalJSON(j); err != nil {
		return Object{}, err
	}
	o := Object{GVK: u.GroupVersionKind(), Name: u.GetName(), Namespace: u.GetNamespace()}
	if o.Name == "" {
		return o, fmt.Errorf("%s without metadata.name", o.GVK.Kind)
	}
	if !scheme.Scheme.Recognizes(o.GVK) {
		o.Obj, o.Custom = &u, true
		return o, nil
	}
	typed, _, err := strict.Decode(doc, nil, nil)
	if err != nil {
		return o, fmt.Errorf("%s: %w", o, err)
	}
	o.Obj = typed
	return o, nil
}

// All returns the objects of Go type T (e.g. *appsv1.StatefulSet).
func All[T runtime.Object](s *Set) []T {
	var out []T
	for _, o := range s.Objects {
		if t, ok := o.Obj.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Get returns the object of Go type T named name, or an error naming what is
// missing.
func Get[T runtime.Object](s *Set, name string) (T, error) {
	var zero T
	for _, o := range s.Objects {
		if t, ok := o.Obj.(T); ok && o.Name == name {
			return t, nil
		}
	}
	return zero, fmt.Errorf("no %T named %q in the rendered objects", zero, name)
}

// ConfigMaps returns the ConfigMaps by name.
func (s *Set) ConfigMaps() map[string]*corev1.ConfigMap {
	out := map[string]*corev1.ConfigMap{}
	for _, cm := range All[*corev1.ConfigMap](s) {
		out[cm.Name] = cm
	}
	return out
}
