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

package direct

import (
	"encoding/json"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// The JSON patches below are the ones virt-api's start handler applies (see
// docs/starting-vms.md). Each carries a JSON-patch "test" of the value it
// replaces, so that of several concurrent writers exactly one succeeds and
// the others get HTTP 422 from the API server.

// ErrChangeUnderway is returned by ChangeRequestPatch when the VirtualMachine
// already has pending state change requests (virt-api answers "stop/start
// already underway").
var ErrChangeUnderway = errors.New("a stop or start request is already pending")

// jsonPatchOp is one RFC 6902 operation. Value is always serialised (a "test"
// of null checks that the member is absent or null).
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// The RFC 6902 operations the patches use.
const (
	opAdd     = "add"
	opRemove  = "remove"
	opReplace = "replace"
	opTest    = "test"
)

// stateChangeRequestsPath is status.stateChangeRequests, where virt-api
// queues start and stop requests for virt-controller.
const stateChangeRequestsPath = "/status/stateChangeRequests"

// removeOp has no value member.
type removeOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
}

// RunningPatch returns the JSON patch, for the VirtualMachine itself, that
// starts a Halted VirtualMachine: spec.runStrategy from its current value to
// Always, or, for a VirtualMachine that uses the deprecated spec.running,
// spec.running to true. Nothing else is changed; the run strategy stays
// Always, exactly as after `virtctl start`.
func RunningPatch(vm *kubevirtv1.VirtualMachine) ([]byte, error) {
	if vm.Spec.RunStrategy != nil {
		return json.Marshal([]jsonPatchOp{
			{Op: opTest, Path: "/spec/runStrategy", Value: *vm.Spec.RunStrategy},
			{Op: opReplace, Path: "/spec/runStrategy", Value: kubevirtv1.RunStrategyAlways},
		})
	}
	var old any // null when unset
	if vm.Spec.Running != nil {
		old = *vm.Spec.Running
	}
	return json.Marshal([]jsonPatchOp{
		{Op: opTest, Path: "/spec/running", Value: old},
		{Op: opReplace, Path: "/spec/running", Value: true},
	})
}

// StartRequests returns the state change requests a start appends for the
// Manual and RerunOnFailure run strategies: Start, preceded by a Stop of the
// old instance when it has finished (Manual: Succeeded or Failed;
// RerunOnFailure: Succeeded), so that KubeVirt replaces it.
func StartRequests(
	vm *kubevirtv1.VirtualMachine,
	vmi *kubevirtv1.VirtualMachineInstance,
) []kubevirtv1.VirtualMachineStateChangeRequest {
	start := kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StartRequest}
	rs, _ := vm.RunStrategy()
	restart := vmi != nil && ((rs == kubevirtv1.RunStrategyManual && vmi.IsFinal()) ||
		(rs == kubevirtv1.RunStrategyRerunOnFailure && vmi.Status.Phase == kubevirtv1.Succeeded))
	if restart {
		uid := vmi.UID
		return []kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StopRequest, UID: &uid}, start}
	}
	return []kubevirtv1.VirtualMachineStateChangeRequest{start}
}

// ChangeRequestPatch returns the JSON patch, for the VirtualMachine's status
// subresource, that appends changes to status.stateChangeRequests (and clears
// status.startFailure, as virt-api does). It returns ErrChangeUnderway if
// requests are already pending, unless changes is a single Stop, which
// replaces them.
//
// When the status is entirely empty virt-api adds it whole; this patch then
// also tests that it is still absent, so that this case too has exactly one
// winner among concurrent writers.
func ChangeRequestPatch(
	vm *kubevirtv1.VirtualMachine,
	changes ...kubevirtv1.VirtualMachineStateChangeRequest,
) ([]byte, error) {
	var ops []any
	if equality.Semantic.DeepEqual(vm.Status, kubevirtv1.VirtualMachineStatus{}) {
		ops = append(ops,
			jsonPatchOp{Op: opTest, Path: "/status", Value: nil},
			jsonPatchOp{Op: opAdd, Path: "/status", Value: kubevirtv1.VirtualMachineStatus{StateChangeRequests: changes}},
		)
	} else {
		ops = append(ops, jsonPatchOp{Op: opTest, Path: stateChangeRequestsPath, Value: vm.Status.StateChangeRequests})
		switch {
		case len(vm.Status.StateChangeRequests) == 0:
			ops = append(ops, jsonPatchOp{Op: opAdd, Path: stateChangeRequestsPath, Value: changes})
		case len(changes) == 1 && changes[0].Action == kubevirtv1.StopRequest:
			ops = append(ops, jsonPatchOp{Op: opReplace, Path: stateChangeRequestsPath, Value: changes})
		default:
			return nil, ErrChangeUnderway
		}
	}
	if vm.Status.StartFailure != nil {
		ops = append(ops, removeOp{Op: opRemove, Path: "/status/startFailure"})
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encoding state change request patch: %w", err)
	}
	return data, nil
}
