package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const defaultK8sTimeout = time.Minute

// k8sResolver watches the EndpointSlices of a Service as the exporter does:
// every address of every endpoint, ready or not (no readiness filter), one
// member per configured port.
type k8sResolver struct {
	publisher
	cfg       K8sConfig
	name, ns  string
	logger    *zap.Logger
	client    kubernetes.Interface
	stop      chan struct{}
	mu        sync.Mutex
	addresses map[string]bool
	slices    map[string]map[string]bool
}

func newK8sResolver(cfg K8sConfig, logger *zap.Logger, client kubernetes.Interface) (*k8sResolver, error) {
	name, ns, err := parseService(cfg.Service)
	if err != nil {
		return nil, fmt.Errorf("resolver::k8s::service: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultK8sTimeout
	}
	return &k8sResolver{
		cfg: cfg, name: name, ns: ns, logger: logger, client: client,
		stop: make(chan struct{}), addresses: map[string]bool{}, slices: map[string]map[string]bool{},
	}, nil
}

// parseService splits "name[.namespace[.svc.cluster-domain]]".
func parseService(service string) (name, namespace string, err error) {
	parts := strings.Split(service, ".")
	if service == "" || parts[0] == "" {
		return "", "", errors.New("a Service name is required")
	}
	name, namespace = parts[0], "default"
	if len(parts) > 1 {
		if parts[1] == "" {
			return "", "", fmt.Errorf("namespace segment missing in %q", service)
		}
		namespace = parts[1]
	}
	if len(parts) > 2 && (parts[2] != "svc" || len(parts) == 3) {
		return "", "", fmt.Errorf("%q is not name.namespace.svc.<cluster domain>", service)
	}
	return name, namespace, nil
}

func (r *k8sResolver) Start(context.Context) error {
	if r.client == nil {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return fmt.Errorf("k8s resolver: %w", err)
		}
		if r.client, err = kubernetes.NewForConfig(cfg); err != nil {
			return fmt.Errorf("k8s resolver: %w", err)
		}
	}
	selector := "kubernetes.io/service-name=" + r.name
	timeout := int64(r.cfg.Timeout.Seconds())
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector, o.TimeoutSeconds = selector, &timeout
			return r.client.DiscoveryV1().EndpointSlices(r.ns).List(context.Background(), o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector, o.TimeoutSeconds = selector, &timeout
			return r.client.DiscoveryV1().EndpointSlices(r.ns).Watch(context.Background(), o)
		},
	}
	informer := cache.NewSharedInformer(lw, &discoveryv1.EndpointSlice{}, 0)
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.update(obj, false) },
		UpdateFunc: func(_, obj any) { r.update(obj, false) },
		DeleteFunc: func(obj any) { r.update(obj, true) },
	}); err != nil {
		return err
	}
	go informer.Run(r.stop)
	if !cache.WaitForCacheSync(r.stop, informer.HasSynced) {
		return errors.New("k8s resolver: EndpointSlice informer did not sync")
	}
	r.mu.Lock()
	r.publishLocked()
	r.mu.Unlock()
	return nil
}

func (r *k8sResolver) Shutdown(context.Context) error {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	return nil
}

// update replaces what one EndpointSlice contributes.
func (r *k8sResolver) update(obj any, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = tomb.Obj, true
	}
	eps, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	hosts := map[string]bool{}
	if !deleted {
		for _, ep := range eps.Endpoints {
			for _, addr := range ep.Addresses {
				if !r.cfg.ReturnHostnames {
					hosts[addr] = true
					continue
				}
				if ep.Hostname == nil || *ep.Hostname == "" {
					r.logger.Warn("EndpointSlice endpoint has no hostname; skipped (return_hostnames is set)", zap.String("slice", eps.Name))
					continue
				}
				hosts[*ep.Hostname+"."+r.name+"."+r.ns] = true
			}
		}
	}
	key := eps.Namespace + "/" + eps.Name
	r.mu.Lock()
	defer r.mu.Unlock()
	// As upstream's handler: a host the slice no longer names is removed from
	// the members, even when another slice still names it.
	for h := range r.slices[key] {
		if !hosts[h] {
			delete(r.addresses, h)
		}
	}
	for h := range hosts {
		r.addresses[h] = true
	}
	if deleted {
		delete(r.slices, key)
	} else {
		r.slices[key] = hosts
	}
	r.publishLocked()
}

func (r *k8sResolver) publishLocked() {
	members := make([]string, 0, len(r.addresses)*max(1, len(r.cfg.Ports)))
	for host := range r.addresses {
		if len(r.cfg.Ports) == 0 {
			members = append(members, host)
			continue
		}
		for _, port := range r.cfg.Ports {
			members = append(members, net.JoinHostPort(host, strconv.Itoa(int(port))))
		}
	}
	r.publish(members)
}
