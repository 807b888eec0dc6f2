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
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

// access is one request a ServiceAccount may or may not make, as a
// SubjectAccessReview asks it.
type access struct {
	verb, group, resource, subresource, namespace, name string
	path                                                string // a non-resource URL instead
}

func (a access) String() string {
	if a.path != "" {
		return a.verb + " " + a.path
	}
	r := a.resource
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.group != "" {
		r += "." + a.group
	}
	return fmt.Sprintf("%s %s %s/%s", a.verb, r, a.namespace, a.name)
}

// allowed asks the API server's authorizer, with a SubjectAccessReview,
// whether the ServiceAccount name of the operator's namespace may make the
// request a.
func allowed(ctx context.Context, name string, a access) bool {
	GinkgoHelper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + operatorNamespace + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}}
	if a.path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: a.verb, Path: a.path}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource,
			Namespace: a.namespace, Name: a.name,
		}
	}
	Expect(admin.Create(ctx, sar)).To(Succeed())
	return sar.Status.Allowed
}

// expectAccess checks every request of want (allowed) and deny (denied) by
// the ServiceAccount name of the operator's namespace, and reports all
// mismatches at once.
func expectAccess(ctx context.Context, name string, want, deny []access) {
	GinkgoHelper()
	var wrong []string
	for _, a := range want {
		if !allowed(ctx, name, a) {
			wrong = append(wrong, "denied but needed: "+a.String())
		}
	}
	for _, a := range deny {
		if allowed(ctx, name, a) {
			wrong = append(wrong, "allowed but not needed: "+a.String())
		}
	}
	Expect(wrong).To(BeEmpty(), "%s/%s", operatorNamespace, name)
	AddReportEntry(fmt.Sprintf("SubjectAccessReviews for %s/%s", operatorNamespace, name),
		fmt.Sprintf("%d allowed, %d denied as expected", len(want), len(deny)))
}

const (
	kubevirtGroup = "kubevirt.io"
	subresGroup   = "subresources.kubevirt.io"
	wolGroup      = "wol.pillon.org"
	secureOn      = wolv1beta1.SecureOnSecretName
)

// Requests nothing in the product needs; every identity it creates must be
// denied all of them.
func neverNeeded(ns string) []access {
	return []access{
		{verb: "*", group: "*", resource: "*"},
		{verb: "get", resource: "pods", namespace: ns},
		{verb: "list", resource: "pods"},
		{verb: "create", resource: "pods", namespace: ns},
		{verb: "create", resource: "pods", subresource: "exec", namespace: ns, name: "x"},
		{verb: "get", resource: "configmaps", namespace: ns, name: "x"},
		{verb: "list", resource: "configmaps"},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: ns, name: "x"},
		{verb: "get", resource: "nodes", name: "x"},
		{verb: "list", resource: "namespaces"},
		{verb: "impersonate", resource: "users", name: "admin"},
		{verb: "impersonate", resource: "serviceaccounts", namespace: ns, name: "x"},
		{verb: "escalate", group: rbacv1.GroupName, resource: "roles", namespace: ns},
		{verb: "escalate", group: rbacv1.GroupName, resource: "clusterroles"},
		{verb: "bind", group: rbacv1.GroupName, resource: "clusterroles", name: "cluster-admin"},
		{verb: "create", group: "batch", resource: "jobs", namespace: ns},
		{verb: "create", group: "certificates.k8s.io", resource: "certificatesigningrequests"},
		{verb: "update", group: "apiextensions.k8s.io", resource: "customresourcedefinitions", name: "virtualmachines.kubevirt.io"},
		{verb: "create", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations"},
		{verb: "create", group: "networking.k8s.io", resource: "networkpolicies", namespace: ns},
		{verb: "create", group: kubevirtGroup, resource: "virtualmachines", namespace: ns},
		{verb: "delete", group: kubevirtGroup, resource: "virtualmachines", namespace: ns, name: "x"},
		{verb: "deletecollection", group: kubevirtGroup, resource: "virtualmachines", namespace: ns},
		{verb: "update", group: kubevirtGroup, resource: "virtualmachines", namespace: ns, name: "x"},
		{verb: "create", group: kubevirtGroup, resource: "virtualmachineinstances", namespace: ns},
		{verb: "delete", group: kubevirtGroup, resource: "virtualmachineinstances", namespace: ns, name: "x"},
		{verb: "update", group: subresGroup, resource: "virtualmachines", subresource: "stop", namespace: ns, name: "x"},
		{verb: "update", group: subresGroup, resource: "virtualmachineinstances", subresource: "console", namespace: ns, name: "x"},
		{verb: "get", group: subresGroup, resource: "virtualmachineinstances", subresource: "vnc", namespace: ns, name: "x"},
		{verb: "list", resource: "secrets"},
		{verb: "list", resource: "secrets", namespace: ns},
		{verb: "watch", resource: "secrets", namespace: ns},
		{verb: "get", resource: "secrets", namespace: ns, name: "some-other-secret"},
		{verb: "create", resource: "secrets", namespace: ns},
		{verb: "update", resource: "secrets", namespace: ns, name: secureOn},
		{verb: "delete", resource: "secrets", namespace: ns, name: secureOn},
	}
}

var _ = Describe("Least privilege, proven with SubjectAccessReviews", Ordered, func() {
	ctx := context.Background()
	const wcName = "lp"
	listenerSA := "wol-listener-" + wcName

	roleIn := func(ns string) func() error {
		return func() error {
			return admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kubevirt-wol-listener-" + wcName}, &rbacv1.RoleBinding{})
		}
	}
	gone := func(ns string) func() bool {
		return func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kubevirt-wol-listener-" + wcName}, &rbacv1.Role{})) &&
				apierrors.IsNotFound(roleIn(ns)())
		}
	}

	BeforeAll(func() {
		for _, ns := range []string{"vault-a", "vault-b", "elsewhere"} {
			ensureNamespace(ctx, ns)
		}
		locked := vm("vault-a", "locked", nil, "52:54:00:10:00:01")
		locked.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: "locked"}
		foreign := vm("elsewhere", "foreign", nil, "52:54:00:10:00:03")
		foreign.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: "foreign"}
		for _, v := range []client.Object{locked, vm("vault-b", "open", nil, "52:54:00:10:00:02"), foreign} {
			Expect(admin.Create(ctx, v)).To(Succeed())
		}
		Expect(admin.Create(ctx, newWolConfig(wcName, func(wc *wolv1beta1.WolConfig) {
			wc.Spec.NamespaceSelectors = []string{"vault-a", "vault-b"}
			wc.Spec.SecureOn = &wolv1beta1.SecureOnSpec{PasswordKey: "office"}
			wc.Spec.WolPorts = []int32{41011}
			wc.Spec.Listener.MetricsPort = ptr.To[int32](41012)
		}))).To(Succeed())
		Eventually(roleIn(operatorNamespace), timeout, poll).Should(Succeed())
		Eventually(roleIn("vault-a"), timeout, poll).Should(Succeed())
	})

	It("lets the listener do exactly what it needs, and nothing else", func() {
		Consistently(gone("vault-b"), "1s", poll).Should(BeTrue(), "SecureOn access where no VM needs it")
		Expect(gone("elsewhere")()).To(BeTrue(), "SecureOn access outside the scope")

		need := []access{
			// The SecureOn Secrets it needs: the WolConfig-wide one and that of
			// the namespace whose VM names its own password. Get, by name.
			{verb: "get", resource: "secrets", namespace: operatorNamespace, name: secureOn},
			{verb: "get", resource: "secrets", namespace: "vault-a", name: secureOn},
			// Its own WolConfig.
			{verb: "get", group: wolGroup, resource: "wolconfigs", name: wcName},
			{verb: "list", group: wolGroup, resource: "wolconfigs", name: wcName},
			{verb: "watch", group: wolGroup, resource: "wolconfigs", name: wcName},
			// The VM index, in the namespaces of its scope.
			{verb: "list", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-a"},
			{verb: "watch", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-a"},
			{verb: "list", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-b"},
			// The starter: exactly virtctl's start and unpause.
			{verb: "get", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-a", name: "locked"},
			{verb: "get", group: kubevirtGroup, resource: "virtualmachineinstances", namespace: "vault-a", name: "locked"},
			{verb: "update", group: subresGroup, resource: "virtualmachines", subresource: "start", namespace: "vault-a", name: "locked"},
			{verb: "update", group: subresGroup, resource: "virtualmachineinstances", subresource: "unpause", namespace: "vault-a", name: "locked"},
			{verb: "update", group: subresGroup, resource: "virtualmachines", subresource: "start", namespace: "vault-b", name: "open"},
			{verb: "create", resource: "events", namespace: "vault-a"},
			// The metrics endpoint's authentication and authorization.
			{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews"},
			{verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews"},
		}
		deny := append(neverNeeded("vault-a"),
			// Secrets beyond the SecureOn ones it needs.
			access{verb: "get", resource: "secrets", namespace: "vault-b", name: secureOn},
			access{verb: "get", resource: "secrets", namespace: "elsewhere", name: secureOn},
			access{verb: "get", resource: "secrets", name: secureOn}, // cluster-wide
			access{verb: "list", resource: "secrets", namespace: "vault-a", name: secureOn},
			access{verb: "watch", resource: "secrets", namespace: "vault-a", name: secureOn},
			access{verb: "get", resource: "secrets", namespace: operatorNamespace, name: "some-other-secret"},
			// Other WolConfigs, and writing its own.
			access{verb: "get", group: wolGroup, resource: "wolconfigs", name: "another"},
			access{verb: "list", group: wolGroup, resource: "wolconfigs"},
			access{verb: "update", group: wolGroup, resource: "wolconfigs", name: wcName},
			access{verb: "delete", group: wolGroup, resource: "wolconfigs", name: wcName},
			access{verb: "update", group: wolGroup, resource: "wolconfigs", subresource: "status", name: wcName},
			// Its own objects.
			access{verb: "patch", group: "apps", resource: "deployments", namespace: operatorNamespace, name: listenerSA},
			access{verb: "update", group: rbacv1.GroupName, resource: "clusterroles", name: "kubevirt-wol-listener-" + wcName},
			access{verb: "update", group: rbacv1.GroupName, resource: "roles", namespace: "vault-a", name: "kubevirt-wol-listener-" + wcName},
			access{verb: "create", group: rbacv1.GroupName, resource: "rolebindings", namespace: "vault-b"},
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace, name: LeaderElectionID},
			access{verb: "update", group: kubevirtGroup, resource: "virtualmachines", subresource: "status", namespace: "vault-a", name: "locked"},
			// No write on VMs at all without spec.directPatchFallback.
			access{verb: "patch", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-a", name: "locked"},
			access{verb: "patch", group: kubevirtGroup, resource: "virtualmachines", subresource: "status", namespace: "vault-a", name: "locked"},
			// Nothing of VMs outside its scope, nor cluster-wide.
			access{verb: "list", group: kubevirtGroup, resource: "virtualmachines"},
			access{verb: "list", group: kubevirtGroup, resource: "virtualmachines", namespace: "elsewhere"},
			access{verb: "get", group: kubevirtGroup, resource: "virtualmachines", namespace: "elsewhere", name: "foreign"},
			access{verb: "update", group: subresGroup, resource: "virtualmachines", subresource: "start", namespace: "elsewhere", name: "foreign"},
			access{verb: "create", resource: "events", namespace: "elsewhere"},
			// Its own metrics endpoint is for Prometheus, not for itself.
			access{verb: "get", path: "/metrics"},
		)
		expectAccess(ctx, listenerSA, need, deny)

		By("and a real request as the listener: the Secret it needs, not the one next to it")
		kube, err := kubernetes.NewForConfig(testenv.Impersonate(adminCfg, operatorNamespace, listenerSA))
		Expect(err).NotTo(HaveOccurred())
		for _, s := range []*corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "vault-a", Name: secureOn}, StringData: map[string]string{"locked": "1.2.3.4"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "vault-a", Name: "db-password"}, StringData: map[string]string{"pw": "x"}},
		} {
			Expect(admin.Create(ctx, s)).To(Succeed())
		}
		_, err = kube.CoreV1().Secrets("vault-a").Get(ctx, secureOn, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = kube.CoreV1().Secrets("vault-a").Get(ctx, "db-password", metav1.GetOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		_, err = kube.CoreV1().Secrets("vault-a").List(ctx, metav1.ListOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	})

	It("grants VM access by RoleBindings in the scope's namespaces, kept in step with the scope", func() {
		vmAccess := func(ns string) access {
			return access{verb: "list", group: kubevirtGroup, resource: "virtualmachines", namespace: ns}
		}
		patchIn := func(ns string) access {
			return access{verb: "patch", group: kubevirtGroup, resource: "virtualmachines", namespace: ns, name: "x"}
		}
		By("moving the scope to vault-b and elsewhere: access leaves vault-a")
		updateWolConfig(ctx, wcName, func(wc *wolv1beta1.WolConfig) { wc.Spec.NamespaceSelectors = []string{"vault-b", "elsewhere"} })
		Eventually(func() bool { return allowed(ctx, listenerSA, vmAccess("vault-a")) }, timeout, poll).Should(BeFalse())
		expectAccess(ctx, listenerSA,
			[]access{vmAccess("vault-b"), vmAccess("elsewhere")},
			[]access{vmAccess("vault-a"), vmAccess(""), patchIn("vault-b")})

		By("spec.directPatchFallback: patch VMs and their status, in the scope only")
		updateWolConfig(ctx, wcName, func(wc *wolv1beta1.WolConfig) { wc.Spec.DirectPatchFallback = true })
		Eventually(func() bool { return allowed(ctx, listenerSA, patchIn("vault-b")) }, timeout, poll).Should(BeTrue())
		expectAccess(ctx, listenerSA,
			[]access{patchIn("elsewhere"), {verb: "patch", group: kubevirtGroup, resource: "virtualmachines", subresource: "status", namespace: "vault-b", name: "x"}},
			[]access{patchIn("vault-a"), patchIn(""), {verb: "update", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-b", name: "x"}})

		By("every namespace in scope: one ClusterRoleBinding, and the RoleBindings go")
		updateWolConfig(ctx, wcName, func(wc *wolv1beta1.WolConfig) {
			wc.Spec.NamespaceSelectors = nil
			wc.Spec.DirectPatchFallback = false
		})
		Eventually(func() bool { return allowed(ctx, listenerSA, vmAccess("")) }, timeout, poll).Should(BeTrue())
		Eventually(func() bool { return allowed(ctx, listenerSA, patchIn("vault-b")) }, timeout, poll).Should(BeFalse())
		for _, ns := range []string{"vault-b", "elsewhere"} {
			Eventually(func() bool {
				return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kubevirt-wol-listener-" + wcName + "-vms"}, &rbacv1.RoleBinding{}))
			}, timeout, poll).Should(BeTrue(), "RoleBinding in %s", ns)
		}

		By("and back to the original scope")
		updateWolConfig(ctx, wcName, func(wc *wolv1beta1.WolConfig) { wc.Spec.NamespaceSelectors = []string{"vault-a", "vault-b"} })
		Eventually(func() bool { return allowed(ctx, listenerSA, vmAccess("")) }, timeout, poll).Should(BeFalse())
		Expect(allowed(ctx, listenerSA, vmAccess("vault-a"))).To(BeTrue())
	})

	It("withdraws Secret access as soon as no VM or WolConfig needs it", func() {
		v := &kubevirtv1.VirtualMachine{}
		Expect(admin.Get(ctx, client.ObjectKey{Namespace: "vault-a", Name: "locked"}, v)).To(Succeed())
		delete(v.Annotations, wolv1beta1.SecureOnKeyAnnotation)
		Expect(admin.Update(ctx, v)).To(Succeed())
		Eventually(gone("vault-a"), timeout, poll).Should(BeTrue())
		Expect(allowed(ctx, listenerSA, access{verb: "get", resource: "secrets", namespace: "vault-a", name: secureOn})).To(BeFalse())

		updateWolConfig(ctx, wcName, func(wc *wolv1beta1.WolConfig) { wc.Spec.SecureOn = nil })
		Eventually(gone(operatorNamespace), timeout, poll).Should(BeTrue())
		Expect(allowed(ctx, listenerSA, access{verb: "get", resource: "secrets", namespace: operatorNamespace, name: secureOn})).To(BeFalse())

		By("and granting it again when a VM in scope names a password")
		Expect(admin.Get(ctx, client.ObjectKey{Namespace: "vault-b", Name: "open"}, v)).To(Succeed())
		v.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: "open"}
		Expect(admin.Update(ctx, v)).To(Succeed())
		Eventually(roleIn("vault-b"), timeout, poll).Should(Succeed())
		Expect(allowed(ctx, listenerSA, access{verb: "get", resource: "secrets", namespace: "vault-b", name: secureOn})).To(BeTrue())
		Expect(admin.Delete(ctx, getWolConfig(ctx, wcName))).To(Succeed())
	})

	It("gives the operator no more than it needs to run and to grant that", func() {
		need := []access{
			// What it grants the listeners, which RBAC requires it to hold.
			{verb: "get", resource: "secrets", namespace: "vault-a", name: secureOn},
			{verb: "get", resource: "secrets", namespace: operatorNamespace, name: secureOn},
			{verb: "create", group: rbacv1.GroupName, resource: "roles", namespace: "vault-a"},
			{verb: "create", group: rbacv1.GroupName, resource: "rolebindings", namespace: "vault-a"},
			{verb: "update", group: subresGroup, resource: "virtualmachines", subresource: "start", namespace: "vault-a", name: "x"},
			{verb: "patch", group: kubevirtGroup, resource: "virtualmachines", namespace: "vault-a", name: "x"},
			// Leader election, in its namespace only.
			{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace, name: LeaderElectionID},
			{verb: "list", group: kubevirtGroup, resource: "virtualmachines"},
		}
		deny := append(neverNeeded("vault-a"),
			access{verb: "get", resource: "secrets", namespace: operatorNamespace, name: "some-other-secret"},
			access{verb: "list", resource: "secrets", namespace: operatorNamespace},
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "vault-a", name: LeaderElectionID},
			access{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace, name: "another-lease"},
			access{verb: "get", resource: "configmaps", namespace: operatorNamespace, name: "x"},
			access{verb: "delete", resource: "namespaces", name: "vault-a"},
		)
		expectAccess(ctx, operatorSA, need, deny)

		By("and its generated ClusterRole grants no wildcard and no other Secret")
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		role := &rbacv1.ClusterRole{}
		Expect(yaml.UnmarshalStrict(data, role)).To(Succeed())
		for _, r := range role.Rules {
			for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups} {
				Expect(list).NotTo(ContainElement("*"), "wildcard in %+v", r)
			}
			Expect(r.Verbs).NotTo(ContainElements("escalate", "bind", "impersonate"), "rule %+v", r)
			if slices.Contains(r.Resources, "secrets") {
				Expect(r).To(Equal(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
					ResourceNames: []string{secureOn}, Verbs: []string{"get"}}))
			}
		}
		Expect(strings.Count(string(data), "secrets")).To(Equal(1))
	})
})
