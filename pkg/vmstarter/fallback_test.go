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

package vmstarter_test

import (
	"context"
	"errors"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/rbac"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

var _ = Describe("A cluster whose KubeVirt does not register its subresource API", func() {
	BeforeEach(func(ctx SpecContext) {
		Expect(kv.Unregister(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(kv.Register(ctx)).To(Succeed()) })
	})

	It("fails the wake with a clear reason by default, and touches nothing", func(ctx SpecContext) {
		key := haltedVM(ctx, "no-subresource")
		res, err := newStarter(listenerCfg, vmstarter.APISubresource, nil).Start(ctx, key, testOrigin)
		Expect(errors.Is(err, vmstarter.ErrSubresourceNotServed)).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(res.Reason).To(Equal(vmstarter.ReasonSubresourceNotServed))
		Expect(res.Message).To(ContainSubstring("spec.directPatchFallback"))
		Eventually(func() []string { return eventReasons(ctx, key.Name) }).Should(ContainElement(vmstarter.EventReasonFailed))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyHalted))
	})

	It("patches the VM with spec.directPatchFallback, and virt-controller starts it", func(ctx SpecContext) {
		key := haltedVM(ctx, "fallback")
		starter := newStarter(directCfg, vmstarter.APIFallback, nil, func(o *vmstarter.Options) { o.ProbeInterval = 200 * time.Millisecond })
		res, err := starter.Start(ctx, key, testOrigin)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Started))
		Expect(res.Path).To(Equal(vmstarter.PathDirect))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyAlways))
		Eventually(func() string { return observe(ctx, key.Name) }).Should(Equal(stScheduled))

		By("going back to the subresource API once it is registered again")
		Expect(kv.Register(ctx)).To(Succeed())
		Eventually(starter.SubresourcesServed).Should(BeTrue())
		res, err = starter.Start(ctx, haltedVM(ctx, "fallback-back"), testOrigin)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Path).To(Equal(vmstarter.PathSubresource))
	})
})

var _ = Describe("Least privilege", func() {
	It("is denied by kube-apiserver without RBAC for the start subresource, before virt-api sees it", func(ctx SpecContext) {
		role := rbac.ListenerRole(false)
		role.Rules = slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, kubevirtcp.SubresourceGroup)
		})
		Expect(role.Rules).To(HaveLen(len(rbac.ListenerRole(false).Rules) - 1))
		cfg, err := rbac.RunAs(ctx, admin, role, saNamespace, "no-start")
		Expect(err).NotTo(HaveOccurred())
		key := haltedVM(ctx, "denied")
		res, err := newStarter(cfg, vmstarter.APISubresource, nil).Start(ctx, key, testOrigin)
		Expect(apierrors.IsForbidden(errors.Unwrap(err))).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyHalted))
		api, _ := kv.Processes()
		Expect(api.Output()).NotTo(ContainSubstring("/virtualmachines/"+key.Name+"/start"), "the request never reached virt-api")
	})

	It("cannot patch a VM with the default rules (no spec.directPatchFallback)", func(ctx SpecContext) {
		key := haltedVM(ctx, "no-patch")
		res, err := newStarter(listenerCfg, vmstarter.APIDirect, nil).Start(ctx, key, testOrigin)
		Expect(apierrors.IsForbidden(errors.Unwrap(err))).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyHalted))
	})
})

var _ = Describe("A refusal that stands", func() {
	It("ends the wake at once with virt-api's message when nothing changed (unpause during a snapshot)", func(ctx SpecContext) {
		name := uniqueName("snapshotting")
		createVM(ctx, vmfixture.New(vmNamespace, name, vmfixture.RunStrategy(kubevirtv1.RunStrategyManual), vmfixture.MACs("52:54:00:00:00:04")))
		Expect(adminKV.KubevirtV1().VirtualMachines(vmNamespace).Start(ctx, name, &kubevirtv1.StartOptions{})).To(Succeed())
		Eventually(func() string { return observe(ctx, name) }).WithTimeout(30 * time.Second).Should(Equal(stScheduled))
		playHandler(ctx, name, stPaused)
		// virt-controller's snapshot controller marks a VM being
		// snapshotted so; virt-api refuses to unpause it meanwhile.
		_, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).PatchStatus(ctx, name, types.MergePatchType,
			[]byte(`{"status":{"snapshotInProgress":"backup"}}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
		reg := prometheus.NewRegistry()
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := newStarter(listenerCfg, vmstarter.APISubresource, reg).Start(dctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
		Expect(err).To(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(res.Reason).To(Equal(vmstarter.ReasonRejected))
		Expect(res.Message).To(ContainSubstring("snapshot"), "virt-api's own words")
		Expect(res.Attempts).To(Equal(2), "one unpause, one read to see nothing changed; no retry loop")
		Eventually(func() []string { return eventReasons(ctx, name) }).Should(ContainElement(vmstarter.EventReasonFailed))
	})
})
