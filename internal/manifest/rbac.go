package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// ClusterWide, as the namespace of RulesFor, asks for the rules a service
// account holds in every namespace and on cluster-scoped resources: those of
// ClusterRoles bound by ClusterRoleBindings.
const ClusterWide = ""

// RulesFor returns the rules the service account saNamespace/saName holds in
// namespace: from every ClusterRoleBinding, plus, for a namespace, from the
// RoleBindings in it (to a Role of that namespace or to a ClusterRole). A
// binding of the account to a role that is not in the set is an error: the
// set is meant to be applied whole.
func (s *Set) RulesFor(saNamespace, saName, namespace string) ([]rbacv1.PolicyRule, error) {
	clusterRoles := map[string]*rbacv1.ClusterRole{}
	for _, r := range All[*rbacv1.ClusterRole](s) {
		clusterRoles[r.Name] = r
	}
	roles := map[string]*rbacv1.Role{}
	for _, r := range All[*rbacv1.Role](s) {
		roles[r.Namespace+"/"+r.Name] = r
	}
	var rules []rbacv1.PolicyRule
	var errs []error
	for _, b := range All[*rbacv1.ClusterRoleBinding](s) {
		if !bindsAccount(b.Subjects, b.Namespace, saNamespace, saName) {
			continue
		}
		r, ok := clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind != "ClusterRole" || !ok {
			errs = append(errs, fmt.Errorf("ClusterRoleBinding %s: %s %q is not in the set", b.Name, b.RoleRef.Kind, b.RoleRef.Name))
			continue
		}
		rules = append(rules, r.Rules...)
	}
	if namespace == ClusterWide {
		return rules, errors.Join(errs...)
	}
	for _, b := range All[*rbacv1.RoleBinding](s) {
		if b.Namespace != namespace || !bindsAccount(b.Subjects, b.Namespace, saNamespace, saName) {
			continue
		}
		switch b.RoleRef.Kind {
		case "Role":
			r, ok := roles[b.Namespace+"/"+b.RoleRef.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("RoleBinding %s/%s: Role %q is not in the set", b.Namespace, b.Name, b.RoleRef.Name))
				continue
			}
			rules = append(rules, r.Rules...)
		case "ClusterRole":
			r, ok := clusterRoles[b.RoleRef.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("RoleBinding %s/%s: ClusterRole %q is not in the set", b.Namespace, b.Name, b.RoleRef.Name))
				continue
			}
			// Within the namespace only: cluster-scoped resources stay out.
			rules = append(rules, r.Rules...)
		default:
			errs = append(errs, fmt.Errorf("RoleBinding %s/%s: unknown roleRef kind %q", b.Namespace, b.Name, b.RoleRef.Kind))
		}
	}
	return rules, errors.Join(errs...)
}

// bindsAccount tells whether subjects name the service account. A subject
// without a namespace means the binding's own namespace.
func bindsAccount(subjects []rbacv1.Subject, bindingNamespace, saNamespace, saName string) bool {
	for _, sub := range subjects {
		ns := sub.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		if sub.Kind == rbacv1.ServiceAccountKind && sub.Name == saName && ns == saNamespace {
			return true
		}
	}
	return false
}

// Covers tells whether held grants everything in required, with the API
// server's own comparator (the one behind its privilege-escalation check),
// and lists what is missing.
func Covers(held, required []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	return validation.Covers(held, required)
}
