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

package listenerapp_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// The API server becomes unreachable for 10 s while wakes are being
// processed: two listeners reach it through one TCP proxy, which the test
// cuts (open connections reset, new ones refused) and restores on the same
// address. One listener has a 30 s wake deadline, the other 3 s.
var _ = Describe("API server unavailable for 10 s while a wake is processed", Ordered, func() {
	ctx := context.Background()
	const outage = 10 * time.Second
	var (
		proxy           *cutproxy.Proxy
		patient, hasty  *running
		patientReceived time.Time
	)

	BeforeAll(func() {
		namespaces(ctx, "outage-a", "outage-b")
		create(ctx, haltedVM("outage-a", "patient", "52:54:00:0a:00:01"), haltedVM("outage-b", "hasty", "52:54:00:0b:00:01"))
		var err error
		proxy, _, err = cutproxy.For(adminCfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		throughProxy := appOptions{restConfig: func(cfg *rest.Config) *rest.Config {
			c, err := proxy.Route(cfg)
			Expect(err).NotTo(HaveOccurred())
			return c
		}}
		wc := func(name, vmNS string, port, deadline int32) *wolv1beta1.WolConfig {
			return &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{vmNS}, WolPorts: []int32{port}, WakeDeadlineSeconds: ptr.To(deadline),
			}}
		}
		patient = startApp(ctx, wc("patient", "outage-a", 40201, 30), throughProxy)
		hasty = startApp(ctx, wc("hasty", "outage-b", 40202, 3), throughProxy)
		Eventually(func() float64 { return patient.metric("wol_managed_vms") + hasty.metric("wol_managed_vms") }, 10*time.Second).
			Should(Equal(2.0))
	})

	It("keeps running, completes the wake within its deadline after recovery, and counts and logs the one past it", func() {
		proxy.Cut()
		cutAt := time.Now()
		patientReceived = time.Now()
		sendUDP("sender", 40201, wol.AppendMagic(nil, mustMAC("52:54:00:0a:00:01"), nil))
		sendUDP("sender", 40202, wol.AppendMagic(nil, mustMAC("52:54:00:0b:00:01"), nil))

		By("the wakes retrying against the unreachable API server, the listeners still taking packets")
		Eventually(func() float64 { return patient.metric("wol_vm_start_retries_total", "reason", "transient") }, 5*time.Second).
			Should(BeNumerically(">", 0))
		Eventually(func() float64 { return hasty.metric("wol_wakes_expired_total") }, 6*time.Second).Should(Equal(1.0),
			"the wake with a 3 s deadline must expire during the outage")
		Expect(string(hasty.logs.Contents())).To(ContainSubstring("Wake expired before the VM could be started"))
		for i := range 5 {
			sendUDP("sender", 40201, []byte(fmt.Sprintf("junk %d", i)))
		}
		Eventually(func() float64 { return patient.metric("wol_dropped_packets_total", "reason", "too_short") }, 5*time.Second).
			Should(Equal(5.0), "the packet engine must keep working while the API server is away")
		Expect(patient.app.Ready()).To(BeTrue())
		Expect(patient.metric("wol_vm_started_total")).To(BeZero())

		time.Sleep(time.Until(cutAt.Add(outage)))
		Expect(proxy.Restore()).To(Succeed())
		restored := time.Now()

		By("the patient wake completing after recovery, within its 30 s deadline")
		Eventually(runStrategy(ctx, "outage-a", "patient"), 15*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
		AddReportEntry("wake completed after the API server came back", time.Since(restored).Round(10*time.Millisecond).String())
		AddReportEntry("wake completed after the packet was received", time.Since(patientReceived).Round(10*time.Millisecond).String())
		Expect(time.Since(patientReceived)).To(BeNumerically("<", 30*time.Second))
		Eventually(func() float64 { return patient.metric("wol_vm_started_total") }, 5*time.Second).Should(Equal(1.0))
		Expect(patient.metric("wol_wakes_expired_total")).To(BeZero())
		Expect(patient.metric("wol_errors_total", "stage", "handler")).To(BeZero())

		By("the expired wake never starting its VM later")
		Consistently(runStrategy(ctx, "outage-b", "hasty"), 3*time.Second, 100*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))
		Expect(hasty.metric("wol_vm_started_total")).To(BeZero())
		Expect(hasty.metric("wol_vm_start_outcomes_total", "outcome", "failed")).To(Equal(1.0))
	})

	It("both listeners work normally after the outage, and follow WolConfig changes again", func() {
		create(ctx, haltedVM("outage-b", "after", "52:54:00:0b:00:02"))
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			sendUDP("sender", 40202, wol.AppendMagic(nil, mustMAC("52:54:00:0b:00:02"), nil))
			return runStrategy(ctx, "outage-b", "after")()
		}, 30*time.Second, 500*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))

		wc := &wolv1beta1.WolConfig{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "patient"}, wc)).To(Succeed())
		wc.Spec.WolPorts = []int32{40203}
		Expect(admin.Update(ctx, wc)).To(Succeed())
		create(ctx, haltedVM("outage-a", "moved", "52:54:00:0a:00:02"))
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			sendUDP("sender", 40203, wol.AppendMagic(nil, mustMAC("52:54:00:0a:00:02"), nil))
			return runStrategy(ctx, "outage-a", "moved")()
		}, 30*time.Second, 500*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
	})
})

// A listener restarted while its VMs have been started starts nothing by
// itself, and a packet for a started VM changes nothing. (Their instances,
// created by real virt-controller, stay in phase Scheduling: envtest has no
// scheduler and no node.)
var _ = Describe("Listener restart with VMs already started", Ordered, func() {
	ctx := context.Background()
	wc := &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: "restart"}, Spec: wolv1beta1.WolConfigSpec{
		NamespaceSelectors: []string{"restart"}, WolPorts: []int32{40211},
	}}

	It("makes no start and no write to any VM", func() {
		namespaces(ctx, "restart")
		running := []string{"always", "manual", "woken"}
		create(ctx, haltedVM("restart", "halted", "52:54:00:0c:00:01"))
		kubevirtClient, err := kubevirt.NewForConfig(adminCfg)
		Expect(err).NotTo(HaveOccurred())
		for i, name := range running {
			strategy := kubevirtv1.RunStrategyAlways
			if name == "manual" {
				strategy = kubevirtv1.RunStrategyManual
			}
			create(ctx, vmfixture.New("restart", name, vmfixture.RunStrategy(strategy), vmfixture.MACs(fmt.Sprintf("52:54:00:0c:01:%02x", i))))
			if name == "manual" {
				Expect(kubevirtClient.KubevirtV1().VirtualMachines("restart").Start(ctx, name, &kubevirtv1.StartOptions{})).To(Succeed())
			}
			Eventually(func() kubevirtv1.VirtualMachineInstancePhase {
				vmi, err := kubevirtClient.KubevirtV1().VirtualMachineInstances("restart").Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return ""
				}
				return vmi.Status.Phase
			}, 30*time.Second).Should(Equal(kubevirtv1.Scheduling), "virt-controller creates the instance of %s", name)
		}
		// What a start would change: the run strategy and pending requests
		// (virt-controller rewrites the rest of the status all the time).
		versions := func() map[string]string {
			out := map[string]string{}
			for _, name := range append(running, "halted") {
				v := &kubevirtv1.VirtualMachine{}
				Expect(admin.Get(ctx, client.ObjectKey{Namespace: "restart", Name: name}, v)).To(Succeed())
				out[name] = fmt.Sprintf("%s %v", *v.Spec.RunStrategy, v.Status.StateChangeRequests)
			}
			return out
		}

		first := startApp(ctx, wc, appOptions{})
		sendUDP("sender", 40211, wol.AppendMagic(nil, mustMAC("52:54:00:0c:01:02"), nil)) // "woken" is started already
		Eventually(func() float64 { return first.metric("wol_vm_start_outcomes_total", "outcome", "already_starting") }, 10*time.Second).
			Should(Equal(1.0))
		before := versions()
		first.stop()
		Expect(first.vmWrites()).To(BeZero())

		second := startApp(ctx, wc, appOptions{})
		Consistently(second.vmWrites, 3*time.Second, 100*time.Millisecond).Should(BeZero(), "a write to a VM after a restart")
		Expect(versions()).To(Equal(before))
		Expect(second.metric("wol_vm_start_outcomes_total")).To(BeZero())
		Expect(second.metric("wol_managed_vms")).To(Equal(4.0))

		By("a packet for a started VM after the restart is handled as such")
		sendUDP("sender", 40211, wol.AppendMagic(nil, mustMAC("52:54:00:0c:01:00"), nil))
		Eventually(func() float64 { return second.metric("wol_vm_start_outcomes_total", "outcome", "already_starting") }, 10*time.Second).
			Should(Equal(1.0))
		Expect(second.vmWrites()).To(BeZero())
		Expect(versions()).To(Equal(before))
	})
})
