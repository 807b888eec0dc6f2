/*
Copyright 2026 The kubevirt-wol Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"slices"

	securityv1 "github.com/openshift/api/security/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerrbac"
)

// The kinds of the RBAC objects the operator manages, in their TypeMeta and
// in role references.
const (
	kindRole               = "Role"
	kindRoleBinding        = "RoleBinding"
	kindClusterRole        = "ClusterRole"
	kindClusterRoleBinding = "ClusterRoleBinding"
)

// BuildClusterRole builds the listener process's ClusterRole: exactly the
// rules generated from the +kubebuilder:rbac markers of the listener process
// (listenerrbac.ProcessRules), with access to WolConfigs narrowed to this
// one, and on OpenShift the right to use this WolConfig's
// SecurityContextConstraints. What the listener may do to VirtualMachines is
// in BuildVMClusterRole.
func BuildClusterRole(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRole {
	rules := listenerrbac.ProcessRules()
	for i := range rules {
		if slices.Contains(rules[i].APIGroups, wolv1beta1.GroupVersion.Group) && slices.Contains(rules[i].Resources, "wolconfigs") {
			rules[i].ResourceNames = []string{wc.Name}
		}
	}
	if p.OpenShift {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups:     []string{securityv1.GroupName},
			Resources:     []string{"securitycontextconstraints"},
			ResourceNames: []string{ListenerClusterName(wc)},
			Verbs:         []string{"use"},
		})
	}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindClusterRole},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), ""),
		Rules:      rules,
	}
}

// BuildClusterRoleBinding binds the listener's ClusterRole to its ServiceAccount.
func BuildClusterRoleBinding(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindClusterRoleBinding},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindClusterRole, Name: ListenerClusterName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

// BuildVMClusterRole builds the ClusterRole of what the listener may do to
// VirtualMachines: read them and their instances, call KubeVirt's start and
// unpause subresources (exactly what `virtctl start` needs) and record
// events (listenerrbac.VMRules); with spec.directPatchFallback also patch
// them and their status (listenerrbac.DirectRules). It is bound in the
// WolConfig's scope only: see VMNamespaces.
func BuildVMClusterRole(wc *wolv1beta1.WolConfig, _ Params) *rbacv1.ClusterRole {
	rules := listenerrbac.VMRules()
	if wc.Spec.DirectPatchFallback {
		rules = append(rules, listenerrbac.DirectRules()...)
	}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindClusterRole},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), ""),
		Rules:      rules,
	}
}

// VMNamespaces returns the namespaces of the WolConfig's scope (sorted), or
// all == true when its scope is every namespace. Explicit mappings scope the
// namespaces they name; the other modes spec.namespaceSelectors, or every
// namespace when it is empty.
func VMNamespaces(wc *wolv1beta1.WolConfig) (namespaces []string, all bool) {
	if wc.Spec.DiscoveryMode == wolv1beta1.DiscoveryModeExplicit {
		for _, m := range wc.Spec.ExplicitMappings {
			namespaces = append(namespaces, m.Namespace)
		}
	} else if len(wc.Spec.NamespaceSelectors) == 0 {
		return nil, true
	} else {
		namespaces = slices.Clone(wc.Spec.NamespaceSelectors)
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), false
}

// BuildVMClusterRoleBinding grants the VM ClusterRole in every namespace,
// for a WolConfig whose scope is every namespace.
func BuildVMClusterRoleBinding(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindClusterRoleBinding},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindClusterRole, Name: ListenerVMsName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

// BuildVMRoleBinding grants the VM ClusterRole in one namespace of the
// WolConfig's scope.
func BuildVMRoleBinding(wc *wolv1beta1.WolConfig, p Params, namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindRoleBinding},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindClusterRole, Name: ListenerVMsName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

func listenerSubjects(wc *wolv1beta1.WolConfig, p Params) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ListenerName(wc), Namespace: p.Namespace}}
}

// SecureOnNamespaces returns, sorted and without duplicates, the namespaces
// where the listener of wc must read the SecureOn Secret
// (kubevirt-wol-secureon): the operator's own when spec.secureOn is set, and
// vmNamespaces, those of the VirtualMachines in scope that name their own
// password (vmindex.Index.SecureOnNamespaces).
func SecureOnNamespaces(wc *wolv1beta1.WolConfig, p Params, vmNamespaces []string) []string {
	out := slices.Clone(vmNamespaces)
	if wc.Spec.SecureOn != nil {
		out = append(out, p.Namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BuildSecureOnRole builds the Role, in namespace, that lets the listener of
// wc read the SecureOn Secret of that namespace: `get` on that one Secret,
// by name — no list, no watch, no other Secret.
func BuildSecureOnRole(wc *wolv1beta1.WolConfig, _ Params, namespace string) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindRole},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), namespace),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			ResourceNames: []string{wolv1beta1.SecureOnSecretName},
			Verbs:         []string{"get"},
		}},
	}
}

// BuildSecureOnRoleBinding binds the SecureOn Role of namespace to the
// listener's ServiceAccount (in the operator's namespace).
func BuildSecureOnRoleBinding(wc *wolv1beta1.WolConfig, p Params, namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kindRoleBinding},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kindRole, Name: ListenerClusterName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}
