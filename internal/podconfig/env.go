// Package podconfig reads a collector config the way a pod of a rendered
// manifest sees it: the file its --config flag names, taken from the
// mounted ConfigMap; the container's environment, built as the kubelet
// builds it (downward API, $(VAR) references); and the config resolved with
// that environment as the collector resolves it at startup (${env:NAME},
// ${env:NAME:-default}, values parsed as YAML).
package podconfig // import "github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/api/filters/refvar"
)

// Pod holds what only the running pod knows and the manifest cannot say: the
// values the downward API and the kubelet give it.
type Pod struct {
	Name, Namespace, UID string
	NodeName             string
	PodIP, HostIP        string
	Labels, Annotations  map[string]string
	// ServiceEnv is what the kubelet adds for Services
	// (KUBERNETES_SERVICE_HOST, ...): lower precedence than the container's
	// own variables, and visible to their $(VAR) references.
	ServiceEnv map[string]string
	// Secrets are the Secrets of the pod's namespace, by name, with their
	// decoded data: a manifest names a Secret the user supplies, and a test
	// supplies it here.
	Secrets map[string]map[string]string
}

// Container finds a container, init containers (native sidecars) included.
func Container(spec *corev1.PodSpec, name string) (*corev1.Container, error) {
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no container %q in the pod spec", name)
}

// Env returns the environment of container as the kubelet builds it for pod:
// envFrom first, then env in order, a later definition replacing an earlier
// one. A literal value's $(VAR) references are expanded against the
// variables defined before it and the service variables; an unknown
// reference stays as it is, and $$ stands for $ (the kubelet's own rules).
// valueFrom reads the downward API (fieldRef, resourceFieldRef) and the
// ConfigMaps given, and secretKeyRef the pod's Secrets.
func Env(spec *corev1.PodSpec, container string, pod Pod, configMaps map[string]*corev1.ConfigMap) (map[string]string, error) {
	c, err := Container(spec, container)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	var errs []error
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			errs = append(errs, fmt.Errorf("envFrom: only configMapRef is supported"))
			continue
		}
		cm, ok := configMaps[from.ConfigMapRef.Name]
		if !ok {
			if from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional {
				errs = append(errs, fmt.Errorf("envFrom: ConfigMap %q not found", from.ConfigMapRef.Name))
			}
			continue
		}
		for k, v := range cm.Data {
			if envName.MatchString(from.Prefix + k) {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = Expand(e.Value, env, pod.ServiceEnv)
			continue
		}
		v, err := valueFrom(e.ValueFrom, spec, c, pod, configMaps)
		if err != nil {
			errs = append(errs, fmt.Errorf("env %s: %w", e.Name, err))
			continue
		}
		env[e.Name] = v
	}
	for k, v := range pod.ServiceEnv {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	return env, errors.Join(errs...)
}

var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// Expand applies the kubelet's $(VAR) expansion to s, looking names up in
// contexts in order. kustomize's refvar is a fork of the kubelet's
// expansion package with the same grammar.
func Expand(s string, contexts ...map[string]string) string {
	mapping := func(name string) any {
		for _, ctx := range contexts {
			if v, ok := ctx[name]; ok {
				return v
			}
		}
		return "$(" + name + ")"
	}
	return fmt.Sprint(refvar.DoReplacements(s, mapping))
}

func valueFrom(src *corev1.EnvVarSource, spec *corev1.PodSpec, c *corev1.Container, pod Pod, configMaps map[string]*corev1.ConfigMap) (string, error) {
	switch {
	case src.FieldRef != nil:
		return fieldRef(src.FieldRef.FieldPath, spec, pod)
	case src.ResourceFieldRef != nil:
		return resourceFieldRef(src.ResourceFieldRef, spec, c)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, ok := configMaps[ref.Name]
		if !ok {
			if optional {
				return "", nil
			}
			return "", fmt.Errorf("ConfigMap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !optional {
			return "", fmt.Errorf("ConfigMap %q has no key %q", ref.Name, ref.Key)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		data, ok := pod.Secrets[ref.Name]
		if !ok {
			if optional {
				return "", nil
			}
			return "", fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := data[ref.Key]
		if !ok && !optional {
			return "", fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		return v, nil
	}
	return "", errors.New("valueFrom names no source")
}

// fieldRef answers the downward API's field paths.
func fieldRef(path string, spec *corev1.PodSpec, pod Pod) (string, error) {
	need := func(v, what string) (string, error) {
		if v == "" {
			return "", fmt.Errorf("fieldRef %s: the test's Pod gives no %s", path, what)
		}
		return v, nil
	}
	switch path {
	case "metadata.name":
		return need(pod.Name, "name")
	case "metadata.namespace":
		return need(pod.Namespace, "namespace")
	case "metadata.uid":
		return need(pod.UID, "UID")
	case "spec.nodeName":
		return need(pod.NodeName, "node name")
	case "spec.serviceAccountName":
		return spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return need(pod.PodIP, "pod IP")
	case "status.hostIP", "status.hostIPs":
		return need(pod.HostIP, "host IP")
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if key, ok := strings.CutPrefix(path, prefix+"['"); ok && strings.HasSuffix(key, "']") {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	return "", fmt.Errorf("fieldRef %s: not a downward API field", path)
}

// resourceFieldRef gives a container's request or limit in units of the
// divisor, rounded up, as the kubelet does. An unset limit would be the
// node's allocatable: unknown here, so an error.
func resourceFieldRef(ref *corev1.ResourceFieldSelector, spec *corev1.PodSpec, self *corev1.Container) (string, error) {
	c := self
	if ref.ContainerName != "" {
		var err error
		if c, err = Container(spec, ref.ContainerName); err != nil {
			return "", fmt.Errorf("resourceFieldRef: %w", err)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef %q: want limits.<name> or requests.<name>", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %s: container %s sets none (the kubelet would use the node's allocatable)", ref.Resource, c.Name)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == "cpu" {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}
