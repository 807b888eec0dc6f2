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

package direct_test

import (
	"encoding/json"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter/direct"
)

func vmWith(opt vmfixture.Option) *kubevirtv1.VirtualMachine { return vmfixture.New("ns", "vm", opt) }

func finished(phase kubevirtv1.VirtualMachineInstancePhase) *kubevirtv1.VirtualMachineInstance {
	return &kubevirtv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", UID: "vmi-uid"},
		Status: kubevirtv1.VirtualMachineInstanceStatus{Phase: phase}}
}

func TestRunningPatch(t *testing.T) {
	unset := vmWith(vmfixture.Running(false))
	unset.Spec.Running = nil
	for _, tc := range []struct {
		name string
		vm   *kubevirtv1.VirtualMachine
		want string
	}{
		{"Halted", vmWith(vmfixture.RunStrategy(kubevirtv1.RunStrategyHalted)),
			`[{"op":"test","path":"/spec/runStrategy","value":"Halted"},{"op":"replace","path":"/spec/runStrategy","value":"Always"}]`},
		{"running: false", vmWith(vmfixture.Running(false)),
			`[{"op":"test","path":"/spec/running","value":false},{"op":"replace","path":"/spec/running","value":true}]`},
		{"unset", unset,
			`[{"op":"test","path":"/spec/running","value":null},{"op":"replace","path":"/spec/running","value":true}]`},
	} {
		got, err := direct.RunningPatch(tc.vm)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: RunningPatch = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

func TestChangeRequestPatch(t *testing.T) {
	start := kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StartRequest}
	uid := types.UID("old")
	stop := kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StopRequest, UID: &uid}
	manual := vmWith(vmfixture.RunStrategy(kubevirtv1.RunStrategyManual))

	got, err := direct.ChangeRequestPatch(manual, start)
	want := `[{"op":"test","path":"/status","value":null},{"op":"add","path":"/status","value":{"stateChangeRequests":[{"action":"Start"}]}}]`
	if err != nil || string(got) != want {
		t.Errorf("empty status: %s %v", got, err)
	}

	manual.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	manual.Status.StartFailure = &kubevirtv1.VirtualMachineStartFailure{ConsecutiveFailCount: 2}
	got, err = direct.ChangeRequestPatch(manual, stop, start)
	want = `[{"op":"test","path":"/status/stateChangeRequests","value":null},` +
		`{"op":"add","path":"/status/stateChangeRequests","value":[{"action":"Stop","uid":"old"},{"action":"Start"}]},` +
		`{"op":"remove","path":"/status/startFailure"}]`
	if err != nil || string(got) != want {
		t.Errorf("status with startFailure: %s %v", got, err)
	}

	manual.Status.StartFailure = nil
	manual.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{start}
	if _, err := direct.ChangeRequestPatch(manual, start); !errors.Is(err, direct.ErrChangeUnderway) {
		t.Errorf("pending request: err %v", err)
	}
	got, err = direct.ChangeRequestPatch(manual, stop)
	var ops []map[string]any
	if err != nil || json.Unmarshal(got, &ops) != nil || ops[1]["op"] != "replace" {
		t.Errorf("a single stop replaces pending requests: %s %v", got, err)
	}
}

func TestStartRequests(t *testing.T) {
	manual := vmfixture.RunStrategy(kubevirtv1.RunStrategyManual)
	rerun := vmfixture.RunStrategy(kubevirtv1.RunStrategyRerunOnFailure)
	for _, tc := range []struct {
		name string
		vm   *kubevirtv1.VirtualMachine
		vmi  *kubevirtv1.VirtualMachineInstance
		n    int
	}{
		{"Manual, none", vmWith(manual), nil, 1},
		{"Manual, Succeeded", vmWith(manual), finished(kubevirtv1.Succeeded), 2},
		{"Manual, Failed", vmWith(manual), finished(kubevirtv1.Failed), 2},
		{"RerunOnFailure, none", vmWith(rerun), nil, 1},
		{"RerunOnFailure, Succeeded", vmWith(rerun), finished(kubevirtv1.Succeeded), 2},
	} {
		reqs := direct.StartRequests(tc.vm, tc.vmi)
		if len(reqs) != tc.n || reqs[len(reqs)-1].Action != kubevirtv1.StartRequest {
			t.Errorf("%s: %+v", tc.name, reqs)
		}
		if tc.n == 2 && (reqs[0].Action != kubevirtv1.StopRequest || *reqs[0].UID != "vmi-uid") {
			t.Errorf("%s: restart must stop the old instance: %+v", tc.name, reqs)
		}
	}
}
