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
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/pkg/vmstarter/direct"
)

// startDirect starts vm by patching it (package direct): only where
// KubeVirt's subresource API is not registered and the WolConfig opts in
// (APIFallback), or when forced (APIDirect).
func (s *Starter) startDirect(
	ctx context.Context,
	vm *kubevirtv1.VirtualMachine,
	vmi *kubevirtv1.VirtualMachineInstance,
) (Outcome, error) {
	err := direct.Start(ctx, s.client, vm, vmi, s.opts.FieldManager)
	switch {
	case err == nil:
		return Started, nil
	case errors.Is(err, direct.ErrChangeUnderway):
		// virt-api answers 500 for the same case.
		return 0, fmt.Errorf("%w: %w", errMaybeLostRace, apierrors.NewInternalError(err))
	case apierrors.IsConflict(err), apierrors.IsInvalid(err), apierrors.IsNotFound(err), apierrors.IsInternalError(err):
		// 422: a JSON-patch test failed (the value changed since it was
		// read) or a validation refused the patch; 404: the VirtualMachine
		// is gone; 500: an admission webhook failed. Reading again tells.
		return 0, fmt.Errorf("%w: %w", errMaybeLostRace, err)
	}
	return 0, err
}
