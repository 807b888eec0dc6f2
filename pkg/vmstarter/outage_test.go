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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

func haltedVM(ctx context.Context, prefix string) types.NamespacedName {
	name := uniqueName(prefix)
	createVM(ctx, vmfixture.New(vmNamespace, name, vmfixture.RunStrategy(kubevirtv1.RunStrategyHalted), vmfixture.MACs("52:54:00:00:00:03")))
	return types.NamespacedName{Namespace: vmNamespace, Name: name}
}

func runStrategyOf(ctx context.Context, key types.NamespacedName) kubevirtv1.VirtualMachineRunStrategy {
	vm, err := adminKV.KubevirtV1().VirtualMachines(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	return *vm.Spec.RunStrategy
}

// startAsync runs a Start in the background; the channel gets its result.
func startAsync(ctx context.Context, s *vmstarter.Starter, key types.NamespacedName) (<-chan struct{}, *vmstarter.Result, *error) {
	done := make(chan struct{})
	var res vmstarter.Result
	var err error
	go func() {
		defer GinkgoRecover()
		defer close(done)
		res, err = s.Start(ctx, key, testOrigin)
	}()
	return done, &res, &err
}

// Real virt-api is killed in the middle of a wake: kube-apiserver answers
// 503 for the subresource API, and KubeVirt's webhooks (failurePolicy
// Fail, served by the same virt-api) refuse every write to the VM. The
// starter waits for virt-api — it never falls back to patching the VM, even
// when allowed to (APIFallback, with the direct-patch rules) — and starts
// the VM once virt-api is back, within the wake's deadline.
var _ = Describe("Start while virt-api is down", func() {
	AfterEach(func(ctx SpecContext) {
		// Whatever happened, the next spec finds virt-api up.
		if api, _ := kv.Processes(); api.Exited() {
			Expect(kv.StartAPI(ctx)).To(Succeed())
		}
	})

	It("rides out a 12 s outage of real virt-api and starts the VM through it", func(ctx SpecContext) {
		key := haltedVM(ctx, "virt-api-outage")
		reg := prometheus.NewRegistry()
		starter := newStarter(directCfg, vmstarter.APIFallback, reg, func(o *vmstarter.Options) {
			o.InitialBackoff, o.MaxBackoff = 100*time.Millisecond, time.Second
		})
		kv.KillAPI()
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		done, res, err := startAsync(dctx, starter, key)
		Eventually(func() float64 { return metrictest.Value(reg, "wol_vm_start_retries_total", "reason", "transient") }).
			WithTimeout(10 * time.Second).Should(BeNumerically(">", vmstarter.DefaultMaxRetries))
		// 12 s down: the wake waits, the VM is not touched.
		Consistently(func() kubevirtv1.VirtualMachineRunStrategy { return runStrategyOf(ctx, key) }, 10*time.Second, 500*time.Millisecond).
			Should(Equal(kubevirtv1.RunStrategyHalted), "no direct patch while virt-api is registered but down")
		Expect(done).NotTo(BeClosed())
		Expect(kv.StartAPI(ctx)).To(Succeed())
		Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
		Expect(*err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Started))
		Expect(res.Path).To(Equal(vmstarter.PathSubresource))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyAlways))
		Eventually(func() string { return observe(ctx, key.Name) }).Should(Equal(stScheduled), "virt-controller starts it")
		Expect(metrictest.Value(reg, "wol_vm_started_total", "path", "direct")).To(BeZero())
	})

	It("gives up at the deadline with DeadlineExceeded, and the VM is never started later", func(ctx SpecContext) {
		key := haltedVM(ctx, "virt-api-expired")
		reg := prometheus.NewRegistry()
		starter := newStarter(directCfg, vmstarter.APIFallback, reg)
		kv.KillAPI()
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		res, err := starter.Start(dctx, key, testOrigin)
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(res.Reason).To(Equal(vmstarter.ReasonDeadlineExceeded))
		Expect(res.Message).To(ContainSubstring("the server is currently unable to handle the request"), "kube-apiserver's 503 is in the message")
		Expect(metrictest.Value(reg, "wol_vm_start_outcomes_total", "outcome", "failed")).To(Equal(1.0))
		Expect(kv.StartAPI(ctx)).To(Succeed())
		Consistently(func() kubevirtv1.VirtualMachineRunStrategy { return runStrategyOf(ctx, key) }, 2*time.Second, 200*time.Millisecond).
			Should(Equal(kubevirtv1.RunStrategyHalted))
	})
})

// The API server becomes unreachable for this starter alone: a TCP proxy in
// front of it is cut (connection refused, open connections reset) and
// restored on the same address.
var _ = Describe("Start while the API server is unreachable", func() {
	var (
		proxy   *cutproxy.Proxy
		starter *vmstarter.Starter
		reg     *prometheus.Registry
	)
	BeforeEach(func() {
		p, cfg, err := cutproxy.For(listenerCfg)
		Expect(err).NotTo(HaveOccurred())
		proxy = p
		DeferCleanup(proxy.Close)
		client, err := kubevirt.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		reg = prometheus.NewRegistry()
		starter, err = vmstarter.New(client.KubevirtV1(), vmstarter.Options{
			Registerer: reg, Log: testLog(), NodeName: nodeName,
			InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		})
		Expect(err).NotTo(HaveOccurred())
	})

	It("rides out an outage shorter than the deadline, far past MaxRetries", func(ctx SpecContext) {
		key := haltedVM(ctx, "outage")
		proxy.Cut()
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		done, res, err := startAsync(dctx, starter, key)
		// Well past the five retries a call without a deadline would allow.
		Eventually(func() float64 { return metrictest.Value(reg, "wol_vm_start_retries_total", "reason", "transient") }).
			WithTimeout(10 * time.Second).Should(BeNumerically(">", vmstarter.DefaultMaxRetries))
		Consistently(done, 500*time.Millisecond).ShouldNot(BeClosed())
		Expect(proxy.Restore()).To(Succeed())
		Eventually(done).WithTimeout(10 * time.Second).Should(BeClosed())
		Expect(*err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Started))
		Expect(runStrategyOf(ctx, key)).To(Equal(kubevirtv1.RunStrategyAlways))
	})

	It("gives up at the deadline with DeadlineExceeded and never starts the VM later", func(ctx SpecContext) {
		key := haltedVM(ctx, "expired")
		proxy.Cut()
		dctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		res, err := starter.Start(dctx, key, testOrigin)
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(res.Reason).To(Equal(vmstarter.ReasonDeadlineExceeded))
		Expect(metrictest.Value(reg, "wol_vm_start_outcomes_total", "outcome", "failed")).To(Equal(1.0))
		Expect(proxy.Restore()).To(Succeed())
		Consistently(func() kubevirtv1.VirtualMachineRunStrategy { return runStrategyOf(ctx, key) }, 2*time.Second, 200*time.Millisecond).
			Should(Equal(kubevirtv1.RunStrategyHalted))
	})
})
