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
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

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
		kv, err := kubevirt.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		reg = prometheus.NewRegistry()
		starter, err = vmstarter.New(kv.KubevirtV1(), vmstarter.Options{
			API: vmstarter.APIAuto, Registerer: reg, Log: testLog(), NodeName: nodeName,
			InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		})
		Expect(err).NotTo(HaveOccurred())
	})

	It("rides out an outage shorter than the deadline, far past MaxRetries", func(ctx SpecContext) {
		name := uniqueName("outage")
		createVM(ctx, name, strategies[1], false) // Halted
		proxy.Cut()
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		done := make(chan struct{})
		var res vmstarter.Result
		var err error
		go func() {
			defer GinkgoRecover()
			defer close(done)
			res, err = starter.Start(dctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
		}()
		// Well past the five retries a call without a deadline would allow.
		Eventually(func() float64 { return counter(reg, "wol_vm_start_retries_total", "reason", "transient") }).
			WithTimeout(10 * time.Second).Should(BeNumerically(">", vmstarter.DefaultMaxRetries))
		Consistently(done, 500*time.Millisecond).ShouldNot(BeClosed())
		Expect(proxy.Restore()).To(Succeed())
		Eventually(done).WithTimeout(10 * time.Second).Should(BeClosed())
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Started))
		vm, gerr := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
		Expect(gerr).NotTo(HaveOccurred())
		Expect(*vm.Spec.RunStrategy).To(Equal(kubevirtv1.RunStrategyAlways))
	})

	It("gives up at the deadline with DeadlineExceeded and never starts the VM later", func(ctx SpecContext) {
		name := uniqueName("expired")
		createVM(ctx, name, strategies[1], false) // Halted
		proxy.Cut()
		dctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		res, err := starter.Start(dctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(res.Reason).To(Equal(vmstarter.ReasonDeadlineExceeded))
		Expect(counter(reg, "wol_vm_start_outcomes_total", "outcome", "failed")).To(Equal(1.0))
		Expect(proxy.Restore()).To(Succeed())
		Consistently(func() kubevirtv1.VirtualMachineRunStrategy {
			vm, gerr := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
			Expect(gerr).NotTo(HaveOccurred())
			return *vm.Spec.RunStrategy
		}, 2*time.Second, 200*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))
	})
})
