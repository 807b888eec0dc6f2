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

package controller

import (
	"context"
	"maps"

	"k8s.io/client-go/util/workqueue"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

// vmHandler maps VirtualMachine events to the WolConfigs whose scope they
// touch, after a debounce delay. Updates that change nothing the index reads
// (status, other annotations, the rest of the spec) enqueue nothing at all, so VM
// churn costs the operator no reconcile and no API write.
type vmHandler struct {
	r *WolConfigReconciler
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// Create implements handler.EventHandler.
func (h *vmHandler) Create(ctx context.Context, e event.TypedCreateEvent[*kubevirtv1.VirtualMachine], q queue) {
	h.enqueue(ctx, q, e.Object)
}

// Update implements handler.EventHandler.
func (h *vmHandler) Update(ctx context.Context, e event.TypedUpdateEvent[*kubevirtv1.VirtualMachine], q queue) {
	if !indexRelevantChange(e.ObjectOld, e.ObjectNew) {
		return
	}
	h.enqueue(ctx, q, e.ObjectOld, e.ObjectNew)
}

// Delete implements handler.EventHandler.
func (h *vmHandler) Delete(ctx context.Context, e event.TypedDeleteEvent[*kubevirtv1.VirtualMachine], q queue) {
	h.enqueue(ctx, q, e.Object)
}

// Generic implements handler.EventHandler.
func (h *vmHandler) Generic(ctx context.Context, e event.TypedGenericEvent[*kubevirtv1.VirtualMachine], q queue) {
	h.enqueue(ctx, q, e.Object)
}

func (h *vmHandler) enqueue(ctx context.Context, q queue, vms ...*kubevirtv1.VirtualMachine) {
	list := &wolv1beta1.WolConfigList{}
	if err := h.r.List(ctx, list); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot list WolConfigs")
		return
	}
	for i := range list.Items {
		wc := &list.Items[i]
		scope, err := vmindex.ScopeFromSpec(wc.Spec)
		if err != nil {
			continue // reported in the WolConfig's status by its own reconcile
		}
		for _, vm := range vms {
			if vm != nil && scope.Evaluate(vm).InScope {
				q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(wc)}, h.r.Debounce)
				break
			}
		}
	}
}

// indexRelevantChange reports whether an update changes what the index
// reads of a VirtualMachine: its labels, its SecureOn key annotation (which
// decides where the listener needs Secret access) or its interfaces' MAC
// addresses.
func indexRelevantChange(o, n *kubevirtv1.VirtualMachine) bool {
	if !maps.Equal(o.Labels, n.Labels) ||
		o.Annotations[wolv1beta1.SecureOnKeyAnnotation] != n.Annotations[wolv1beta1.SecureOnKeyAnnotation] {
		return true
	}
	oi, ni := interfaces(o), interfaces(n)
	if len(oi) != len(ni) {
		return true
	}
	for i := range oi {
		if oi[i].Name != ni[i].Name || oi[i].MacAddress != ni[i].MacAddress {
			return true
		}
	}
	return false
}

func interfaces(vm *kubevirtv1.VirtualMachine) []kubevirtv1.Interface {
	if vm.Spec.Template == nil {
		return nil
	}
	return vm.Spec.Template.Spec.Domain.Devices.Interfaces
}
