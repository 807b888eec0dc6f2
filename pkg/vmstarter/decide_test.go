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
	"encoding/json"
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// strategy is how a test VM selects its run strategy.
type strategy struct {
	name    string
	rs      kubevirtv1.VirtualMachineRunStrategy // "" with running set
	running *bool
}

var strategies = []strategy{
	{name: "Always", rs: kubevirtv1.RunStrategyAlways},
	{name: "Halted", rs: kubevirtv1.RunStrategyHalted},
	{name: "Manual", rs: kubevirtv1.RunStrategyManual},
	{name: "RerunOnFailure", rs: kubevirtv1.RunStrategyRerunOnFailure},
	{name: "Once", rs: kubevirtv1.RunStrategyOnce},
	{name: "WaitAsReceiver", rs: kubevirtv1.RunStrategyWaitAsReceiver},
	{name: "running=true", running: ptr.To(true)},
	{name: "running=false", running: ptr.To(false)},
}

func (s strategy) apply(vm *kubevirtv1.VirtualMachine) {
	if s.running != nil {
		vm.Spec.Running = ptr.To(*s.running)
		return
	}
	rs := s.rs
	vm.Spec.RunStrategy = &rs
}

// instance states of the table.
const (
	stNone      = "none"
	stRunning   = "Running"
	stPaused    = "Paused"
	stSucceeded = "Succeeded"
	stFailed    = "Failed"
	stStopping  = "stopping"
)

var instanceStates = []string{stNone, stRunning, stPaused, stSucceeded, stFailed, stStopping}

func pureVM(s strategy) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm"}}
	s.apply(vm)
	return vm
}

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
	case stSucceeded:
		vmi.Status.Phase = kubevirtv1.Succeeded
	case stFailed:
		vmi.Status.Phase = kubevirtv1.Failed
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
	running  = expectation{outcome: vmstarter.AlreadyRunning}
	starting = expectation{outcome: vmstarter.AlreadyStarting}
)

func refused(r vmstarter.Reason) expectation {
	return expectation{outcome: vmstarter.Refused, reason: r}
}

// decisionTable is KubeVirt's start semantics (docs/starting-vms.md), by run
// strategy and instance state.
var decisionTable = map[string]map[string]expectation{
	"Always": {stNone: starting, stRunning: running, stPaused: unpause, stSucceeded: starting, stFailed: starting, stStopping: wait},
	// A Halted VM with a live instance is being stopped by KubeVirt.
	"Halted":         {stNone: start, stRunning: wait, stPaused: wait, stSucceeded: start, stFailed: start, stStopping: wait},
	"Manual":         {stNone: start, stRunning: running, stPaused: unpause, stSucceeded: start, stFailed: start, stStopping: wait},
	"RerunOnFailure": {stNone: start, stRunning: running, stPaused: unpause, stSucceeded: start, stFailed: refused(vmstarter.ReasonRerunOnFailureAfterFailure), stStopping: wait},
	"Once":           {stNone: starting, stRunning: running, stPaused: unpause, stSucceeded: refused(vmstarter.ReasonOnceCompleted), stFailed: refused(vmstarter.ReasonOnceCompleted), stStopping: wait},
	"WaitAsReceiver": {stNone: refused(vmstarter.ReasonWaitAsReceiver), stRunning: running, stPaused: unpause, stSucceeded: refused(vmstarter.ReasonWaitAsReceiver), stFailed: refused(vmstarter.ReasonWaitAsReceiver), stStopping: wait},
	"running=true":   {stNone: starting, stRunning: running, stPaused: unpause, stSucceeded: starting, stFailed: starting, stStopping: wait},
	"running=false":  {stNone: start, stRunning: wait, stPaused: wait, stSucceeded: start, stFailed: start, stStopping: wait},
}

func TestDecideTable(t *testing.T) {
	for _, s := range strategies {
		for _, state := range instanceStates {
			t.Run(s.name+"/"+state, func(t *testing.T) {
				want := decisionTable[s.name][state]
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
	manual := strategies[2]
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
		}, starting},
		{"pending Stop request, no instance", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StopRequest}}
		}, wait},
		{"pending restart (Stop then Start)", func(vm *kubevirtv1.VirtualMachine, _ **kubevirtv1.VirtualMachineInstance) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StopRequest}, {Action: kubevirtv1.StartRequest}}
		}, starting},
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
		}, starting},
		{"instance without phase yet", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stRunning)
			(*vmi).Status.Phase = ""
		}, starting},
		{"instance phase Unknown", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stRunning)
			(*vmi).Status.Phase = kubevirtv1.Unknown
		}, running},
		{"paused condition false", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stPaused)
			(*vmi).Status.Conditions[0].Status = corev1.ConditionFalse
		}, running},
		{"deleted final instance is not stopping", func(_ *kubevirtv1.VirtualMachine, vmi **kubevirtv1.VirtualMachineInstance) {
			*vmi = pureVMI(stSucceeded)
			(*vmi).DeletionTimestamp = ptr.To(metav1.Now())
		}, start},
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

func TestRunningPatch(t *testing.T) {
	for _, tc := range []struct {
		s    strategy
		want string
	}{
		{strategies[1], `[{"op":"test","path":"/spec/runStrategy","value":"Halted"},{"op":"replace","path":"/spec/runStrategy","value":"Always"}]`},
		{strategies[7], `[{"op":"test","path":"/spec/running","value":false},{"op":"replace","path":"/spec/running","value":true}]`},
		{strategy{name: "unset"}, `[{"op":"test","path":"/spec/running","value":null},{"op":"replace","path":"/spec/running","value":true}]`},
	} {
		vm := pureVM(tc.s)
		if tc.s.name == "unset" {
			vm.Spec.RunStrategy = nil
		}
		got, err := vmstarter.RunningPatch(vm)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: RunningPatch = %s, %v; want %s", tc.s.name, got, err, tc.want)
		}
	}
}

func TestChangeRequestPatch(t *testing.T) {
	start := kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StartRequest}
	uid := types.UID("old")
	stop := kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StopRequest, UID: &uid}
	manual := pureVM(strategies[2])

	got, err := vmstarter.ChangeRequestPatch(manual, start)
	want := `[{"op":"test","path":"/status","value":null},{"op":"add","path":"/status","value":{"stateChangeRequests":[{"action":"Start"}]}}]`
	if err != nil || string(got) != want {
		t.Errorf("empty status: %s %v", got, err)
	}

	manual.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	manual.Status.StartFailure = &kubevirtv1.VirtualMachineStartFailure{ConsecutiveFailCount: 2}
	got, err = vmstarter.ChangeRequestPatch(manual, stop, start)
	want = `[{"op":"test","path":"/status/stateChangeRequests","value":null},` +
		`{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Stop","uid":"old"},{"action":"Start"}]},` +
		`{"op":"remove","path":"/status/startFailure"}]`
	if err != nil || string(got) != want {
		t.Errorf("status with startFailure: %s %v", got, err)
	}

	manual.Status.StartFailure = nil
	manual.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{start}
	if _, err := vmstarter.ChangeRequestPatch(manual, start); !errors.Is(err, vmstarter.ErrChangeUnderway) {
		t.Errorf("pending request: err %v", err)
	}
	got, err = vmstarter.ChangeRequestPatch(manual, stop)
	var ops []map[string]any
	if err != nil || json.Unmarshal(got, &ops) != nil || ops[1]["op"] != "replace" {
		t.Errorf("a single stop replaces pending requests: %s %v", got, err)
	}
}

func TestStartRequests(t *testing.T) {
	for _, tc := range []struct {
		s     strategy
		state string
		n     int
	}{
		{strategies[2], stNone, 1}, {strategies[2], stSucceeded, 2}, {strategies[2], stFailed, 2},
		{strategies[3], stNone, 1}, {strategies[3], stSucceeded, 2},
	} {
		reqs := vmstarter.StartRequests(pureVM(tc.s), pureVMI(tc.state))
		if len(reqs) != tc.n || reqs[len(reqs)-1].Action != kubevirtv1.StartRequest {
			t.Errorf("%s/%s: %+v", tc.s.name, tc.state, reqs)
		}
		if tc.n == 2 && (reqs[0].Action != kubevirtv1.StopRequest || *reqs[0].UID != "vmi-uid") {
			t.Errorf("%s/%s: restart must stop the old instance: %+v", tc.s.name, tc.state, reqs)
		}
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
