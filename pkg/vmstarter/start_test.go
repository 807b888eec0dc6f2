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
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtapi"
	"github.com/gpillon/kubevirt-wol/internal/testenv/rbac"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

var testOrigin = vmstarter.Origin{Protocol: "udp4", Port: 9, Source: netip.MustParseAddrPort("192.0.2.7:40000"), Interface: "eth0"}

const listenerUser = "system:serviceaccount:" + saNamespace + ":" + saName

func pathOf(api vmstarter.APIMode) vmstarter.Path {
	if api == vmstarter.APISubresource {
		return vmstarter.PathSubresource
	}
	return vmstarter.PathDirect
}

// expectedStart is the VM after a start of strategy s: exactly the field
// `virtctl start` changes, nothing else.
func expectedStart(before map[string]any, s strategy, state string, vmiUID types.UID) map[string]any {
	want := runtime.DeepCopyJSON(before)
	switch {
	case s.running != nil:
		Expect(unstructured.SetNestedField(want, true, "spec", "running")).To(Succeed())
	case s.rs == kubevirtv1.RunStrategyHalted:
		Expect(unstructured.SetNestedField(want, "Always", "spec", "runStrategy")).To(Succeed())
	default: // Manual, RerunOnFailure: a state change request, strategy unchanged
		reqs := []any{map[string]any{"action": "Start"}}
		restart := (s.rs == kubevirtv1.RunStrategyManual && (state == stSucceeded || state == stFailed)) ||
			(s.rs == kubevirtv1.RunStrategyRerunOnFailure && state == stSucceeded)
		if restart {
			reqs = append([]any{map[string]any{"action": "Stop", "uid": string(vmiUID)}}, reqs...)
		}
		Expect(unstructured.SetNestedSlice(want, reqs, "status", "stateChangeRequests")).To(Succeed())
	}
	return want
}

// backendRequests returns the requests the virt-api double got for VM or
// instance name.
func backendRequests(name string) []kubevirtapi.Request {
	var out []kubevirtapi.Request
	for _, r := range virtAPI.Requests() {
		if strings.Contains(r.Path, "/"+name+"/") {
			out = append(out, r)
		}
	}
	return out
}

// runCell runs one cell of the run strategy × instance state table and checks
// the outcome, the exact VM diff, the event, the metrics and the API calls.
func runCell(ctx SpecContext, api vmstarter.APIMode, s strategy, state string) {
	name := uniqueName(strings.ReplaceAll(s.name, "=", "-"))
	key := types.NamespacedName{Namespace: vmNamespace, Name: name}
	createVM(ctx, name, s, false)
	var vmiUID types.UID
	if state != stNone {
		vmiUID = createVMI(ctx, name, state)
	}
	before := vmState(ctx, name)
	exp := decisionTable[s.name][state]
	reg := prometheus.NewRegistry()
	stopTimeout := 300 * time.Millisecond
	if state == stStopping {
		stopTimeout = 20 * time.Second // released below, long before
	}
	starter := newStarter(api, reg, func(o *vmstarter.Options) { o.StopTimeout = stopTimeout })

	var res vmstarter.Result
	var err error
	if state == stStopping {
		// The wake arrives while the VM is stopping: Start must wait, and
		// start the VM once the instance is gone.
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			res, err = starter.Start(ctx, key, testOrigin)
		}()
		Eventually(func() float64 { return counter(reg, "wol_vm_start_retries_total", "reason", "stopping") }).
			Should(BeNumerically(">=", 2), "Start should be waiting for the VM to stop")
		Expect(done).NotTo(BeClosed())
		releaseVMI(ctx, name)
		Eventually(done).WithTimeout(10 * time.Second).Should(BeClosed())
		state, vmiUID, exp = stNone, "", decisionTable[s.name][stNone]
		Expect(res.Waited).To(BeNumerically(">", 0))
	} else {
		res, err = starter.Start(ctx, key, testOrigin)
	}
	after := vmState(ctx, name)

	want, wantReason, wantDiff, wantEvent := vmstarter.Outcome(0), vmstarter.ReasonNone, before, ""
	switch exp.action {
	case vmstarter.ActionStart:
		want, wantDiff, wantEvent = vmstarter.Started, expectedStart(before, s, state, vmiUID), vmstarter.EventReasonWoken
	case vmstarter.ActionUnpause:
		if api == vmstarter.APISubresource {
			want, wantEvent = vmstarter.Unpaused, vmstarter.EventReasonUnpaused
		} else {
			want, wantReason, wantEvent = vmstarter.Refused, vmstarter.ReasonUnpauseUnavailable, vmstarter.EventReasonRefused
		}
	case vmstarter.ActionWait: // Halted with a live instance that never goes away
		want, wantReason, wantEvent = vmstarter.Failed, vmstarter.ReasonStillStopping, vmstarter.EventReasonFailed
	default:
		want, wantReason = exp.outcome, exp.reason
		if want == vmstarter.Refused {
			wantEvent = vmstarter.EventReasonRefused
		}
	}

	Expect(res.Outcome).To(Equal(want), "outcome (%s)", res.Message)
	Expect(res.Reason).To(Equal(wantReason))
	if want == vmstarter.Failed {
		Expect(errors.Is(err, vmstarter.ErrStillStopping)).To(BeTrue(), "error %v", err)
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(after).To(Equal(wantDiff), "the VM must change exactly as `virtctl start` changes it")

	// One outcome counted; a start counted only when it happened.
	Expect(counter(reg, "wol_vm_start_outcomes_total", "outcome", want.String())).To(Equal(1.0))
	started := 0.0
	if want == vmstarter.Started {
		started = 1
		Expect(res.Path).To(Equal(pathOf(api)))
	}
	Expect(counter(reg, "wol_vm_started_total", "path", pathOf(api).String())).To(Equal(started))

	if wantEvent != "" {
		Eventually(func() []string { return eventReasons(ctx, name) }).Should(ContainElement(wantEvent))
	}

	// The subresource API is called (as the listener's ServiceAccount,
	// through kube-apiserver) exactly when there is something to do.
	reqs := backendRequests(name)
	switch {
	case api == vmstarter.APISubresource && want == vmstarter.Started:
		Expect(reqs).To(ConsistOf(kubevirtapi.Request{Method: "PUT", Path: "/apis/subresources.kubevirt.io/v1/namespaces/vms/virtualmachines/" + name + "/start", User: listenerUser, Code: 202}))
	case api == vmstarter.APISubresource && want == vmstarter.Unpaused:
		Expect(reqs).To(ConsistOf(kubevirtapi.Request{Method: "PUT", Path: "/apis/subresources.kubevirt.io/v1/namespaces/vms/virtualmachineinstances/" + name + "/unpause", User: listenerUser, Code: 202}))
		vmi, err := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Get(ctx, name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(vmi.Status.Conditions).To(BeEmpty(), "the instance is no longer paused")
	default:
		Expect(reqs).To(BeEmpty())
	}
}

func tableEntries() []TableEntry {
	var entries []TableEntry
	for _, s := range strategies {
		for _, state := range instanceStates {
			entries = append(entries, Entry(s.name+" × "+state, s, state))
		}
	}
	return entries
}

var _ = Describe("Start", func() {
	for _, api := range []vmstarter.APIMode{vmstarter.APIDirect, vmstarter.APISubresource} {
		Context("through "+pathOf(api).String(), func() {
			DescribeTable("run strategy × instance state",
				func(ctx SpecContext, s strategy, state string) { runCell(ctx, api, s, state) },
				tableEntries())
		})
	}

	It("reports a VirtualMachine that does not exist", func(ctx SpecContext) {
		reg := prometheus.NewRegistry()
		res, err := newStarter(vmstarter.APIAuto, reg).Start(ctx, types.NamespacedName{Namespace: vmNamespace, Name: "nope"}, testOrigin)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.NotFound))
		Expect(counter(reg, "wol_vm_start_outcomes_total", "outcome", "not_found")).To(Equal(1.0))
	})

	It("starts a VM with an empty status (virt-api's add /status branch)", func(ctx SpecContext) {
		for _, api := range []vmstarter.APIMode{vmstarter.APIDirect, vmstarter.APISubresource} {
			name := uniqueName("bare")
			createVM(ctx, name, strategies[2], true) // Manual, no status at all
			before := vmState(ctx, name)
			Expect(before).NotTo(HaveKey("status"))
			res, err := newStarter(api, nil).Start(ctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Outcome).To(Equal(vmstarter.Started))
			want := runtime.DeepCopyJSON(before)
			// printableStatus is the CRD's default, filled in by the API
			// server once a status exists.
			want["status"] = map[string]any{"stateChangeRequests": []any{map[string]any{"action": "Start"}}, "printableStatus": "Stopped"}
			Expect(vmState(ctx, name)).To(Equal(want))
		}
	})

	It("waits for a stop requested through the stop subresource, then starts", func(ctx SpecContext) {
		name := uniqueName("stop-then-wake")
		key := types.NamespacedName{Namespace: vmNamespace, Name: name}
		createVM(ctx, name, strategies[2], false) // Manual
		createVMI(ctx, name, stRunning)
		// A user stops the VM: virt-api records a Stop request.
		Expect(adminKV.KubevirtV1().VirtualMachines(vmNamespace).Stop(ctx, name, &kubevirtv1.StopOptions{})).To(Succeed())
		reg := prometheus.NewRegistry()
		starter := newStarter(vmstarter.APISubresource, reg, func(o *vmstarter.Options) { o.StopTimeout = 20 * time.Second })
		done := make(chan struct{})
		var res vmstarter.Result
		var err error
		go func() {
			defer GinkgoRecover()
			defer close(done)
			res, err = starter.Start(ctx, key, testOrigin)
		}()
		Eventually(func() float64 { return counter(reg, "wol_vm_start_retries_total", "reason", "stopping") }).Should(BeNumerically(">=", 2))
		// Another wake for the same VM meanwhile does not tie up a second
		// worker: it returns at once.
		again, aerr := starter.Start(ctx, key, testOrigin)
		Expect(aerr).NotTo(HaveOccurred())
		Expect(again.Outcome).To(Equal(vmstarter.AlreadyStarting))
		Expect(again.Attempts).To(BeZero())
		// virt-controller's part: the instance goes away, the request is done.
		releaseVMI(ctx, name)
		_, perr := adminKV.KubevirtV1().VirtualMachines(vmNamespace).PatchStatus(ctx, name, types.JSONPatchType,
			[]byte(`[{"op":"remove","path":"/status/stateChangeRequests"}]`), metav1.PatchOptions{})
		Expect(perr).NotTo(HaveOccurred())
		Eventually(done).WithTimeout(10 * time.Second).Should(BeClosed())
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Outcome).To(Equal(vmstarter.Started))
		vm, gerr := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
		Expect(gerr).NotTo(HaveOccurred())
		Expect(vm.Status.StateChangeRequests).To(Equal([]kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StartRequest}}))
		Expect(*vm.Spec.RunStrategy).To(Equal(kubevirtv1.RunStrategyManual), "the run strategy is never changed for Manual")
	})

	It("re-probes discovery: falls back to direct patches when the API goes away, and returns to it", func(ctx SpecContext) {
		starter := newStarter(vmstarter.APIAuto, nil, func(o *vmstarter.Options) { o.ProbeInterval = 100 * time.Millisecond })
		Expect(starter.SubresourcesServed()).To(BeTrue())
		start := func() vmstarter.Result {
			name := uniqueName("probe")
			createVM(ctx, name, strategies[1], false) // Halted
			res, err := starter.Start(ctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Outcome).To(Equal(vmstarter.Started))
			return res
		}
		Expect(start().Path).To(Equal(vmstarter.PathSubresource))

		// The API disappears; the starter still believes it is served, gets
		// 404 from kube-apiserver, probes again and patches directly.
		Expect(virtAPI.Unregister(ctx)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(virtAPI.Register(ctx)).To(Succeed()) })
		Expect(start().Path).To(Equal(vmstarter.PathDirect))

		// It comes back; after the probe interval the starter uses it again.
		Expect(virtAPI.Register(ctx)).To(Succeed())
		Eventually(starter.SubresourcesServed).Should(BeTrue())
		Expect(start().Path).To(Equal(vmstarter.PathSubresource))
	})

	It("is denied by kube-apiserver without RBAC for the start subresource", func(ctx SpecContext) {
		// The listener role minus the subresource rule: the call must fail
		// with 403 before it reaches virt-api.
		role := listenerRole.DeepCopy()
		role.Rules = slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, kubevirtapi.Group)
		})
		Expect(role.Rules).To(HaveLen(len(listenerRole.Rules) - 1))
		cfg, err := rbac.RunAs(ctx, admin, role, saNamespace, "no-start")
		Expect(err).NotTo(HaveOccurred())
		kv, err := kubevirt.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		starter, err := vmstarter.New(kv.KubevirtV1(), vmstarter.Options{API: vmstarter.APISubresource, Log: testLog()})
		Expect(err).NotTo(HaveOccurred())

		name := uniqueName("denied")
		createVM(ctx, name, strategies[1], false)
		before := vmState(ctx, name)
		res, err := starter.Start(ctx, types.NamespacedName{Namespace: vmNamespace, Name: name}, testOrigin)
		Expect(apierrors.IsForbidden(errors.Unwrap(err))).To(BeTrue(), "error %v", err)
		Expect(res.Outcome).To(Equal(vmstarter.Failed))
		Expect(backendRequests(name)).To(BeEmpty())
		Expect(vmState(ctx, name)).To(Equal(before))
	})
})
