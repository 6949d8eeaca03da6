package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Environment the workload lookup reads: the cluster's (set in every pod)
// and the pod's own name and namespace (from the downward API).
const (
	envServiceHost  = "KUBERNETES_SERVICE_HOST"
	envPodName      = "POD_NAME"
	envPodNamespace = "POD_NAMESPACE"
)

func inClusterClient() (kubernetes.Interface, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// lookupWorkload tells the kind of workload this collector's pod belongs to,
// when it runs in Kubernetes: "" outside, or with an error saying why not.
func lookupWorkload(ctx context.Context, getenv func(string) string, newClient func() (kubernetes.Interface, error)) (string, error) {
	if getenv(envServiceHost) == "" {
		return "", nil
	}
	name, ns := getenv(envPodName), getenv(envPodNamespace)
	if name == "" || ns == "" {
		return "", fmt.Errorf("in Kubernetes, but %s and %s are not both set (give them from the downward API: metadata.name, metadata.namespace)", envPodName, envPodNamespace)
	}
	client, err := newClient()
	if err != nil {
		return "", fmt.Errorf("in-cluster client: %w", err)
	}
	return podWorkload(ctx, client, ns, name)
}

// podWorkload returns the kind of the controller that owns the pod:
// DaemonSet, StatefulSet, Job, Deployment (through its ReplicaSet), ... or
// Pod when nothing owns it.
func podWorkload(ctx context.Context, client kubernetes.Interface, namespace, name string) (string, error) {
	pod, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	owner := controllerOf(pod.OwnerReferences)
	if owner == nil {
		return "Pod", nil
	}
	if owner.Kind != "ReplicaSet" {
		return owner.Kind, nil
	}
	rs, err := client.AppsV1().ReplicaSets(namespace).Get(ctx, owner.Name, metav1.GetOptions{})
	if err != nil {
		// Without access to ReplicaSets the kind we know, ReplicaSet, is
		// still enough to tell that this is not a DaemonSet.
		return "ReplicaSet", nil
	}
	if up := controllerOf(rs.OwnerReferences); up != nil {
		return up.Kind, nil
	}
	return "ReplicaSet", nil
}

func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) > 0 {
		return &refs[0]
	}
	return nil
}
