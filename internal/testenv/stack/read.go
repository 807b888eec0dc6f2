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

package stack

// What the suites on a stack read and change as a user would: a VM's run
// strategy, its instance, the WolConfig.

import (
	"context"

	"k8s.io/client-go/util/retry"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// RunStrategy is the run strategy of the VirtualMachine namespace/name, ""
// if it cannot be read.
func (s *Stack) RunStrategy(ctx context.Context, namespace, name string) kubevirtv1.VirtualMachineRunStrategy {
	vm := &kubevirtv1.VirtualMachine{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, vm); err != nil || vm.Spec.RunStrategy == nil {
		return ""
	}
	return *vm.Spec.RunStrategy
}

// Instance says where the VirtualMachineInstance namespace/name is: its
// phase and node ("Scheduled on node-000000"), or "none".
func (s *Stack) Instance(ctx context.Context, namespace, name string) string {
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, vmi); err != nil {
		return "none"
	}
	return string(vmi.Status.Phase) + " on " + vmi.Status.NodeName
}

// UpdateWolConfig applies mutate to the WolConfig name and updates it,
// again on a conflict.
func (s *Stack) UpdateWolConfig(ctx context.Context, name string, mutate func(*wolv1beta1.WolConfig)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		wc := &wolv1beta1.WolConfig{}
		if err := s.Client.Get(ctx, client.ObjectKey{Name: name}, wc); err != nil {
			return err
		}
		mutate(wc)
		return s.Client.Update(ctx, wc)
	})
}
