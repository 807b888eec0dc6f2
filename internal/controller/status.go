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
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

// StatusListLimit bounds each list in the status; the counts stay exact.
const StatusListLimit = 10

// statusInputs is everything the status is computed from.
type statusInputs struct {
	conflict   *PortConflict
	deployment *appsv1.Deployment // nil when there is none
	vms        *vmindex.Snapshot  // nil when the scope could not be built
	scopeErr   error
	applyErr   error
	now        metav1.Time
}

// computeStatus returns the status wc should have. It is pure: conditions
// keep their lastTransitionTime unless their status changes, and lastSync
// moves only when the VirtualMachines' summary changes, so the same inputs
// give a status equal to the current one and nothing is written.
func computeStatus(wc *wolv1beta1.WolConfig, in statusInputs) wolv1beta1.WolConfigStatus {
	old := wc.Status
	st := wolv1beta1.WolConfigStatus{
		ObservedGeneration: wc.Generation,
		Conditions:         append([]metav1.Condition(nil), old.Conditions...),
		LastSync:           old.LastSync,
	}

	desired := wolv1beta1.DefaultListenerReplicas
	if wc.Spec.Listener.Replicas != nil {
		desired = *wc.Spec.Listener.Replicas
	}
	st.Listener.Replicas = desired
	if in.conflict != nil {
		st.Listener.Replicas = 0
	}
	if d := in.deployment; d != nil && in.conflict == nil {
		st.Listener.ReadyReplicas = d.Status.ReadyReplicas
	}

	if in.vms != nil {
		fillVMSummary(&st, in.vms)
		if !sameVMSummary(&st, &old) || st.LastSync == nil {
			st.LastSync = ptrTime(in.now)
		}
	}

	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: wc.Generation,
		})
	}
	ready := st.Listener.ReadyReplicas
	switch {
	case in.conflict != nil:
		set(wolv1beta1.ConditionReady, metav1.ConditionFalse, wolv1beta1.ReasonPortConflict, in.conflict.Message())
	case in.scopeErr != nil:
		set(wolv1beta1.ConditionReady, metav1.ConditionFalse, wolv1beta1.ReasonInvalidSpec, in.scopeErr.Error())
	case in.applyErr != nil:
		set(wolv1beta1.ConditionReady, metav1.ConditionFalse, wolv1beta1.ReasonApplyFailed, in.applyErr.Error())
	case desired == 0:
		set(wolv1beta1.ConditionReady, metav1.ConditionFalse, wolv1beta1.ReasonScaledToZero, "spec.listener.replicas is 0: no listener runs")
	case ready == 0:
		set(wolv1beta1.ConditionReady, metav1.ConditionFalse, wolv1beta1.ReasonListenerNotReady,
			fmt.Sprintf("0 of %d listener pods are ready", desired))
	default:
		set(wolv1beta1.ConditionReady, metav1.ConditionTrue, wolv1beta1.ReasonListenerReady,
			fmt.Sprintf("%d of %d listener pods are ready; %d VirtualMachines can be woken", ready, desired, st.ManagedVMs))
	}

	if d := in.deployment; d != nil && in.conflict == nil && rollingOut(d, desired) {
		set(wolv1beta1.ConditionProgressing, metav1.ConditionTrue, wolv1beta1.ReasonRollingOut,
			fmt.Sprintf("%d of %d listener pods updated, %d ready", d.Status.UpdatedReplicas, desired, d.Status.ReadyReplicas))
	} else {
		set(wolv1beta1.ConditionProgressing, metav1.ConditionFalse, wolv1beta1.ReasonRolloutComplete, "the listener Deployment is up to date")
	}

	switch {
	case in.conflict != nil:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionTrue, wolv1beta1.ReasonPortConflict, in.conflict.Message())
	case in.scopeErr != nil:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionTrue, wolv1beta1.ReasonInvalidSpec, in.scopeErr.Error())
	case in.applyErr != nil:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionTrue, wolv1beta1.ReasonApplyFailed, in.applyErr.Error())
	case st.MACConflictCount > 0:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionTrue, wolv1beta1.ReasonMACConflict, conflictMessage(&st))
	case st.MissingMappingCount > 0:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionTrue, wolv1beta1.ReasonMissingVM,
			fmt.Sprintf("%d explicit mappings name a VirtualMachine that does not exist (see status.missingMappings)", st.MissingMappingCount))
	default:
		set(wolv1beta1.ConditionDegraded, metav1.ConditionFalse, wolv1beta1.ReasonAsExpected, "no problem found")
	}
	return st
}

func rollingOut(d *appsv1.Deployment, desired int32) bool {
	return d.Status.ObservedGeneration < d.Generation ||
		d.Status.UpdatedReplicas < desired ||
		d.Status.Replicas > d.Status.UpdatedReplicas
}

func fillVMSummary(st *wolv1beta1.WolConfigStatus, s *vmindex.Snapshot) {
	st.ManagedVMs = int32(s.ManagedVMs)
	st.MACConflictCount = int32(s.ConflictCount)
	st.NotWakeableCount = int32(s.NotWakeableCount)
	st.MissingMappingCount = int32(s.MissingMappingCount)
	for _, c := range limit(s.Conflicts) {
		vms := make([]string, len(c.VMs))
		for i, vm := range c.VMs {
			vms[i] = vm.String()
		}
		st.MACConflicts = append(st.MACConflicts, wolv1beta1.MACConflict{MACAddress: c.MAC.String(), VMs: vms})
	}
	for _, v := range limit(s.NotWakeable) {
		st.NotWakeableVMs = append(st.NotWakeableVMs, v.VM.String())
	}
	for _, m := range limit(s.MissingMappings) {
		st.MissingMappings = append(st.MissingMappings, wolv1beta1.ExplicitMapping{
			MACAddress: m.MAC.String(), VMName: m.VM.Name, Namespace: m.VM.Namespace,
		})
	}
}

func limit[T any](s []T) []T {
	if len(s) > StatusListLimit {
		return s[:StatusListLimit]
	}
	return s
}

// sameVMSummary compares the parts of two statuses that describe the VMs.
func sameVMSummary(a, b *wolv1beta1.WolConfigStatus) bool {
	return a.ManagedVMs == b.ManagedVMs &&
		a.MACConflictCount == b.MACConflictCount &&
		a.NotWakeableCount == b.NotWakeableCount &&
		a.MissingMappingCount == b.MissingMappingCount &&
		equality.Semantic.DeepEqual(a.MACConflicts, b.MACConflicts) &&
		equality.Semantic.DeepEqual(a.NotWakeableVMs, b.NotWakeableVMs) &&
		equality.Semantic.DeepEqual(a.MissingMappings, b.MissingMappings)
}

func conflictMessage(st *wolv1beta1.WolConfigStatus) string {
	parts := make([]string, 0, len(st.MACConflicts))
	for _, c := range st.MACConflicts {
		parts = append(parts, c.MACAddress+" ("+strings.Join(c.VMs, ", ")+")")
	}
	return fmt.Sprintf("%d MAC addresses are declared by several VirtualMachines, which are therefore not woken: %s",
		st.MACConflictCount, strings.Join(parts, "; "))
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
