package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is a pod as a NetworkPolicy meets it: its namespace and that
// namespace's labels, its own labels, and the ports its containers declare
// (a policy may name a port).
type Pod struct {
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
	Ports           []corev1.ContainerPort
}

// Admits tells whether the set's NetworkPolicies let src open a TCP
// connection to port of dst, as the Kubernetes NetworkPolicy API defines it:
// a pod that no policy of its namespace selects for ingress takes any
// connection; a selected one only those some rule of a selecting policy
// allows (a rule without ports allows every port, one without peers every
// source; a peer with a podSelector alone means pods of the policy's own
// namespace). Traffic from the pod's own node (the kubelet's probes) is not
// a pod's and always allowed; ipBlock peers are an error: they would need
// pod IPs.
func (s *Set) Admits(src, dst Pod, port int32) (bool, error) {
	selected := false
	for _, np := range All[*networkingv1.NetworkPolicy](s) {
		if np.Namespace != dst.Namespace || !ingress(np) {
			continue
		}
		ok, err := matches(&np.Spec.PodSelector, dst.Labels)
		if err != nil || !ok {
			if err != nil {
				return false, fmt.Errorf("NetworkPolicy %s: podSelector: %w", np.Name, err)
			}
			continue
		}
		selected = true
		for i, rule := range np.Spec.Ingress {
			if !portAllowed(rule.Ports, dst.Ports, port) {
				continue
			}
			ok, err := fromAllowed(rule.From, np.Namespace, src)
			if err != nil {
				return false, fmt.Errorf("NetworkPolicy %s: ingress[%d]: %w", np.Name, i, err)
			}
			if ok {
				return true, nil
			}
		}
	}
	return !selected, nil
}

// ingress tells whether a policy restricts ingress: policyTypes holds
// Ingress, or is empty (then every policy does).
func ingress(np *networkingv1.NetworkPolicy) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return true
	}
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

func matches(sel *metav1.LabelSelector, set map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(set)), nil
}

func portAllowed(rules []networkingv1.NetworkPolicyPort, declared []corev1.ContainerPort, port int32) bool {
	if len(rules) == 0 {
		return true
	}
	for _, r := range rules {
		if r.Protocol != nil && *r.Protocol != corev1.ProtocolTCP {
			continue
		}
		if r.Port == nil {
			return true
		}
		if r.Port.Type == intstr.Int {
			end := r.Port.IntVal
			if r.EndPort != nil {
				end = *r.EndPort
			}
			if port >= r.Port.IntVal && port <= end {
				return true
			}
			continue
		}
		// A named port: the destination's container port of that name.
		for _, cp := range declared {
			if cp.Name == r.Port.StrVal && cp.ContainerPort == port && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
				return true
			}
		}
	}
	return false
}

func fromAllowed(peers []networkingv1.NetworkPolicyPeer, policyNs string, src Pod) (bool, error) {
	if len(peers) == 0 {
		return true, nil
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			return false, fmt.Errorf("ipBlock peers are not modelled")
		}
		nsOK := src.Namespace == policyNs
		if p.NamespaceSelector != nil {
			ok, err := matches(p.NamespaceSelector, src.NamespaceLabels)
			if err != nil {
				return false, err
			}
			nsOK = ok
		}
		podOK := true
		if p.PodSelector != nil {
			ok, err := matches(p.PodSelector, src.Labels)
			if err != nil {
				return false, err
			}
			podOK = ok
		}
		if nsOK && podOK {
			return true, nil
		}
	}
	return false, nil
}
