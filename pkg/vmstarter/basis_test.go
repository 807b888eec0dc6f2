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

package vmstarter

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// TestBasisTellsLostRaces: a refused write is judged a lost race only when
// basis changed between the read the write rested on and the read after it.
func TestBasisTellsLostRaces(t *testing.T) {
	manual := kubevirtv1.RunStrategyManual
	fresh := func() *kubevirtv1.VirtualMachine {
		return &kubevirtv1.VirtualMachine{
			ObjectMeta: metav1.ObjectMeta{Namespace: "vms", Name: "vm"},
			Spec:       kubevirtv1.VirtualMachineSpec{RunStrategy: &manual},
		}
	}
	for _, tc := range []struct {
		name    string
		change  func(vm *kubevirtv1.VirtualMachine)
		changed bool
	}{{
		// The direct path's state change request tests that an empty
		// status is still absent; virt-controller's first write fails it.
		name: "virt-controller's first status write",
		change: func(vm *kubevirtv1.VirtualMachine) {
			vm.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
		},
		changed: true,
	}, {
		name: "a state change request queued by another writer",
		change: func(vm *kubevirtv1.VirtualMachine) {
			vm.Status.StateChangeRequests = []kubevirtv1.VirtualMachineStateChangeRequest{
				{Action: kubevirtv1.StartRequest},
			}
		},
		changed: true,
	}, {
		name:   "nothing",
		change: func(*kubevirtv1.VirtualMachine) {},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := fresh(), fresh()
			tc.change(after)
			if got := basis(before, nil) != basis(after, nil); got != tc.changed {
				t.Errorf("basis changed = %t, want %t", got, tc.changed)
			}
		})
	}

	// Once the status is written, virt-controller's rewrites of it do not
	// explain a refusal.
	before, after := fresh(), fresh()
	before.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	after.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusProvisioning
	if basis(before, nil) != basis(after, nil) {
		t.Errorf("a printableStatus rewrite changed the basis")
	}
}
