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
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// The pure tests of Decide: every strategy × instance state, with instances
// built by hand (the table in twins_test.go checks the same rules against
// real KubeVirt).

func pureVM(s strategy) *kubevirtv1.VirtualMachine { return vmfixture.New("ns", "vm", s.option()) }

// pureVMI is an instance in state (see observe), or nil for none.
func pureVMI(state string) *kubevirtv1.VirtualMachineInstance {
	if state == stNone {
		return nil
	}
	vmi := &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", UID: "vmi-uid"}}
	switch state {
	case stRunning, stStopping:
		vmi.Status.Phase = kubevirtv1.Running
	case stPaused:
		vmi.Status.Phase = kubevirtv1.Running
		vmi.Status.Conditions = []kubevirtv1.VirtualMachineInstanceCondition{{Type: kubevirtv1.VirtualMachineInstancePaused, Status: corev1.ConditionTrue}}
	default:
		vmi.Status.Phase = kubevirtv1.VirtualMachineInstancePhase(state)
	}
	if state == stStopping {
		vmi.DeletionTimestamp = ptr.To(metav1.Now())
	}
	return vmi
}

// expectation is the decision for one cell of the strategy × state table.
type expectation struct {
	action  vmstarter.Action
	outcome vmstarter.Outcome
	reason  vmstarter.Reason
}

var (
	start    = expectation{action: vmstarter.ActionStart}
	unpause  = expectation{action: vmstarter.ActionUnpause}
	wait     = expectation{action: vmstarter.ActionWait}
	isUp     = expectation{outcome: vmstarter.AlreadyRunning}
	isComing = expectation{outcome: vmstarter.AlreadyStarting}
)

func refused(r vmstarter.Reason) expectation {
	return expectation{outcome: vmstarter.Refused, reason: r}
}

// decisionTable is KubeVirt's start semantics (docs/starting-vms.md), by run
// strategy and instance state, for an instance as it is at the moment of the
// decision ("WaitingForSync" is a receiver's instance).
var decisionTable = map[string]map[string]expectation{
	"Always": {stNone: isComing, stScheduling: isComing, stScheduled: isComing, stRunning: isUp, stPaused: unpause,
		stSucceeded: isComing, stFailed: isComing, stStopping: wait},
	// A Halted VM with a live instance is being stopped by KubeVirt.
	"Halted": {stNone: start, stScheduling: wait, stScheduled: wait, stRunning: wait, stPaused: wait,
		stSucceeded: start, stFailed: start, stStopping: wait},
	"Manual": {stNone: start, stScheduling: isComing, stScheduled: isComing, stRunning: isUp, stPaused: unpause,
		stSucceeded: start, stFailed: start, stStopping: wait},
	// After a failed run, virt-controller restarts a RerunOnFailure VM.
	"RerunOnFailure": {stNone: start, stScheduling: isComing, stScheduled: isComing, stRunning: isUp, stPaused: unpause,
		stSucceeded: start, stFailed: isComing, stStopping: wait},
	"Once": {stNone: isComing, stScheduling: isComing, stScheduled: isComing, stRunning: isUp, stPaused: unpause,
		stSucceeded: refused(vmstarter.ReasonOnceCompleted), stFailed: refused(vmstarter.ReasonOnceCompleted), stStopping: wait},
	"WaitAsReceiver": {stNone: isComing, "WaitingForSync": isComing, stScheduling: isComing,
		stScheduled: isComing, stRunning: isUp, stPaused: unpause, stSucceeded: refused(vmstarter.ReasonWaitAsReceiver),
		stFailed: refused(vmstarter.ReasonWaitAsReceiver), stStopping: wait},
	"running: true": {stNone: isComing, stScheduling: isComing, stScheduled: isComing, stRunning: isUp, stPaused: unpause,
		stSucceeded: isComing, stFailed: isComing, stStopping: wait},
	"running: false": {stNone: start, stScheduling: wait, stScheduled: wait, stRunning: wait, stPaused: wait,
		stSucceeded: start, stFailed: start, stStopping: wait},
}

func TestDecideTable(t *testing.T) {
	sRunningTrue := strategy{name: "running: true", running: ptr.To(true)}
	for _, s := range append(strategies, sRunningTrue) {
		for state, want := range decisionTable[s.name] {
			t.Run(s.name+"/"+state, func(t *testing.T) {
				d := vmstarter.Decide(pureVM(s), pureVMI(state))
				if d.Action != want.action || d.Outcome != want.outcome || d.Reason != want.reason {
					t.Fatalf("Decide = %+v, want %+v", d, want)
				}
				if d.Message == "" && d.Action != vmstarter.ActionStart {
					t.Fatal("decision without message")
				}
			})
		}
	}
}

func TestDecideSpecialCases(t *testing.T) {
	manual := sManual
	cases := []struct {
		name   string
		mutate func(*kubevirtv1.VirtualMachine, **kubevirtv1.VirtualMachineInstance)
		want   expectation
	}{
		{"VM being deleted", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.DeletionTimestamp = ptr.To(metav1.Now())
		}, refused(vmstarter.ReasonVMTerminating)},
		{"running and runStrategy both set", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Spec.Running = ptr.To(true)
		}, refused(vmstarter.ReasonInvalidRunStrategy)},
		{"unknown run strategy", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Spec.RunStrategy = ptr.To[kubevirtv1.VirtualMachineRunStrategy]("Sometimes")
		}, refused(vmstarter.ReasonInvalidRunStrategy)},
		{"ManualRecoveryRequired", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.Conditions = []kubevirtv1.VirtualMachineCondition{{Type: kubevirtv1.VirtualMachineManualRecoveryRequired, Status: corev1.ConditionTrue}}
		}, refused(vmstarter.ReasonManualRecoveryRequired)},
		{"ManualRecoveryRequired false", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.Conditions = []kubevirtv1.VirtualMachineCondition{{Type: kubevirtv1.VirtualMachineManualRecoveryRequired, Status: corev1.ConditionFalse}}
		}, start},
		{"pending Start request", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StartRequest}}
		}, isComing},
		{"pending Stop request, no instance", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StopRequest}}
		}, wait},
		{"pending restart (Stop then Start)", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StopRequest}, {Action: kubevirtv1.StartRequest}}
		}, isComing},
		{"printable status Stopping with a running instance", func(vm *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			vm.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopping
			*vmi = pureVMI(stRunning)
		}, wait},
		{"printable status Stopping but instance gone", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopping
		}, start},
		{"instance scheduling", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stRunning)
			(*vmi).Status.Phase = kubevirtv1.Scheduling
		}, isComing},
		{"instance without phase yet", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stRunning)
			(*vmi).Status.Phase = ""
		}, isComing},
		{"instance phase Unknown", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stRunning)
			(*vmi).Status.Phase = kubevirtv1.Unknown
		}, isUp},
		{"paused condition false", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stPaused)
			(*vmi).Status.Conditions[0].Status = corev1.ConditionFalse
		}, isUp},
		{"a finished instance being deleted is still going away", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stFailed)
			(*vmi).DeletionTimestamp = ptr.To(metav1.Now())
		}, wait},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := pureVM(manual)
			var vmi *kubevirtv1.VirtualMachineInstance
			tc.mutate(vm, &vmi)
			d := vmstarter.Decide(vm, vmi)
			if d.Action != tc.want.action || d.Outcome != tc.want.outcome || d.Reason != tc.want.reason {
				t.Fatalf("Decide = %+v, want %+v", d, tc.want)
			}
		})
	}
}

func TestOriginString(t *testing.T) {
	for _, tc := range []struct {
		o    vmstarter.Origin
		want string
	}{
		{vmstarter.Origin{Protocol: "udp4", Port: 9, Source: netip.MustParseAddrPort("192.0.2.7:40000"), Interface: "eth0"},
			"192.0.2.7:40000 (udp4 port 9, interface eth0)"},
		{vmstarter.Origin{Protocol: "raw", SourceMAC: wol.MAC{0x52, 0x54, 0, 0x12, 0x34, 0x56}, Tagged: true, VLAN: 10},
			"52:54:00:12:34:56 (raw, VLAN 10)"},
		{vmstarter.Origin{}, "an unknown sender"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestOutcomeStrings(t *testing.T) {
	seen := map[string]bool{}
	for o := vmstarter.Started; o <= vmstarter.Failed; o++ {
		s := o.String()
		if s == "unknown" || seen[s] {
			t.Fatalf("outcome %d: %q", o, s)
		}
		seen[s] = true
	}
	if vmstarter.Outcome(0).String() != "unknown" || vmstarter.Outcome(200).String() != "unknown" {
		t.Fatal("out of range outcome")
	}
}
