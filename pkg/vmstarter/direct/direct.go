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

// Package direct starts a VirtualMachine by patching it with the very change
// virt-api's start handler makes ([RunningPatch], [ChangeRequestPatch]),
// each with a JSON-patch test of the value it replaces, so that of several
// concurrent writers exactly one succeeds.
//
// It is the fallback for clusters where KubeVirt's subresource API
// (subresources.kubevirt.io) is not registered at all, and an opt-in
// (WolConfig spec.directPatchFallback): it needs `patch` on
// VirtualMachines and their status, which `virtctl start` never needs. The
// RBAC markers below are generated into their own rules
// (internal/listenerrbac/direct.yaml), granted only with that opt-in.
package direct

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
)

// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines,verbs=patch
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines/status,verbs=patch

// ErrNoStart is returned for a run strategy that virt-api has no start for.
var ErrNoStart = errors.New("no start for this run strategy")

// Start applies to vm, whose instance is vmi (nil if none), the change a
// start through virt-api makes for its run strategy: Halted → runStrategy
// Always (or running: true); Manual and RerunOnFailure → a Start state
// change request (preceded by a Stop of a finished instance). It returns
// the API server's error as is (422 when a JSON-patch test failed), or
// ErrChangeUnderway without writing when a request is already pending.
func Start(ctx context.Context, client kvcorev1.KubevirtV1Interface, vm *kubevirtv1.VirtualMachine,
	vmi *kubevirtv1.VirtualMachineInstance, fieldManager string) error {
	vms := client.VirtualMachines(vm.Namespace)
	rs, err := vm.RunStrategy()
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: fieldManager}
	switch rs {
	case kubevirtv1.RunStrategyHalted:
		data, err := RunningPatch(vm)
		if err != nil {
			return err
		}
		_, err = vms.Patch(ctx, vm.Name, types.JSONPatchType, data, opts)
		return err
	case kubevirtv1.RunStrategyManual, kubevirtv1.RunStrategyRerunOnFailure:
		data, err := ChangeRequestPatch(vm, StartRequests(vm, vmi)...)
		if err != nil {
			return err
		}
		_, err = vms.PatchStatus(ctx, vm.Name, types.JSONPatchType, data, opts)
		return err
	}
	return fmt.Errorf("%w: %q", ErrNoStart, rs)
}
