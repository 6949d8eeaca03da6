package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Environment the workload lookup reads: the cluster's (set in every pod)
// and the pod's own name and namespace (from the downward API).
const (
	envServiceHost  = "KUBERNETES_SERVICE_HOST"
	envPodName      = "POD_NAME"
	envPodNamespace = "POD_NAMESPACE"
)

// ownerReader reads the owner references of a pod ("pods", the core API) or
// a ReplicaSet ("replicasets", apps/v1): all the lookup asks the API server.
type ownerReader interface {
	owners(ctx context.Context, resource, namespace, name string) ([]metav1.OwnerReference, error)
}

// apiOwners reads them with two GETs on the API server, decoding only the
// objects' metadata: no typed clientset (client-go's links every API group,
// ~20 MB of the sidecar's binary, README "Images per tier").
type apiOwners struct {
	host   string
	client *http.Client
}

func inClusterClient() (ownerReader, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, err
	}
	return newAPIOwners(cfg)
}

// newAPIOwners uses the config's host, TLS and credentials (a service
// account token is read again as kubelet rotates it).
func newAPIOwners(cfg *rest.Config) (*apiOwners, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return &apiOwners{host: strings.TrimSuffix(host, "/"), client: client}, nil
}

var ownerPaths = map[string]string{"pods": "/api/v1", "replicasets": "/apis/apps/v1"}

func (a *apiOwners) owners(ctx context.Context, resource, namespace, name string) ([]metav1.OwnerReference, error) {
	prefix, ok := ownerPaths[resource]
	if !ok {
		return nil, fmt.Errorf("no API path for %s", resource)
	}
	u := a.host + prefix + "/namespaces/" + url.PathEscape(namespace) + "/" + resource + "/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// The API server explains itself in a Status object.
		var st metav1.Status
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			return nil, fmt.Errorf("%s: %s", resp.Status, st.Message)
		}
		return nil, fmt.Errorf("%s", resp.Status)
	}
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", resource, namespace, name, err)
	}
	return obj.OwnerReferences, nil
}

// lookupWorkload tells the kind of workload this collector's pod belongs to,
// when it runs in Kubernetes: "" outside, or with an error saying why not.
func lookupWorkload(ctx context.Context, getenv func(string) string, newClient func() (ownerReader, error)) (string, error) {
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
func podWorkload(ctx context.Context, client ownerReader, namespace, name string) (string, error) {
	refs, err := client.owners(ctx, "pods", namespace, name)
	if err != nil {
		return "", fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	owner := controllerOf(refs)
	if owner == nil {
		return "Pod", nil
	}
	if owner.Kind != "ReplicaSet" {
		return owner.Kind, nil
	}
	rsRefs, err := client.owners(ctx, "replicasets", namespace, owner.Name)
	if err != nil {
		// Without access to ReplicaSets the kind we know, ReplicaSet, is
		// still enough to tell that this is not a DaemonSet.
		return "ReplicaSet", nil
	}
	if up := controllerOf(rsRefs); up != nil {
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
