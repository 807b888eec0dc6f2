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
	corev1 "k8s.io/api/core/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// Action is what a wake request should do to a VirtualMachine.
type Action uint8

// Actions.
const (
	// ActionNone: nothing; the Decision's Outcome says why.
	ActionNone Action = iota
	// ActionStart: start the VirtualMachine (the start subresource, or the
	// same change applied to the VirtualMachine).
	ActionStart
	// ActionUnpause: unpause the VirtualMachine's paused instance.
	ActionUnpause
	// ActionWait: the VirtualMachine is stopping; wait until it has stopped
	// and decide again.
	ActionWait
)

var actionNames = [...]string{"none", "start", "unpause", "wait"}

// String returns "none", "start", "unpause" or "wait".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return unknown
}

// Decision is the result of [Decide].
type Decision struct {
	// Action is what to do.
	Action Action
	// Outcome is the outcome to report when Action is ActionNone
	// (AlreadyRunning, AlreadyStarting or Refused).
	Outcome Outcome
	// Reason qualifies a Refused outcome.
	Reason Reason
	// Message explains the decision in words.
	Message string
}

// Decide says what waking vm should do, given its instance vmi (nil if it has
// none). It is pure, and it is KubeVirt's start semantics (virt-api's start
// handler, see docs/starting-vms.md) seen from a caller that wants the
// VirtualMachine to run:
//
//   - a VirtualMachine being deleted, or with an invalid run strategy, is
//     refused;
//   - a VirtualMachine that is stopping (its instance, finished or not, is
//     being deleted; its printable status is Stopping or its run strategy
//     Halted while an instance still runs; or its last pending state change
//     request is a Stop) is waited for: starting it now would be refused by
//     KubeVirt, and dropping the wake would lose it;
//   - an instance that is running is left alone, or unpaused if it is
//     paused; one that is being created or scheduled is a start under way;
//   - ManualRecoveryRequired is refused, a pending Start request is a start
//     under way;
//   - then per run strategy: Halted (or running: false), Manual and
//     RerunOnFailure are started, except RerunOnFailure after a failed
//     run, which KubeVirt restarts by itself, as it starts Always (or
//     running: true); Once is started by KubeVirt itself, or refused once
//     it has run; WaitAsReceiver gets its receiving instance from KubeVirt
//     itself, and is refused once that has finished.
func Decide(vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) Decision {
	if vm.DeletionTimestamp != nil {
		return refuse(ReasonVMTerminating, "the VirtualMachine is being deleted")
	}
	rs, err := vm.RunStrategy()
	if err != nil {
		return refuse(ReasonInvalidRunStrategy, "spec.running and spec.runStrategy are both set")
	}
	if isStopping(vm, vmi, rs) {
		return Decision{Action: ActionWait, Message: "the VirtualMachine is stopping"}
	}
	if vmi != nil && !vmi.IsFinal() {
		switch vmi.Status.Phase {
		case kubevirtv1.Running:
			if instancePaused(vmi) {
				return Decision{Action: ActionUnpause, Message: "the VirtualMachine is paused"}
			}
			return none(AlreadyRunning, "the VirtualMachine is running")
		case kubevirtv1.Unknown:
			return none(AlreadyRunning, "the VirtualMachine's instance is in phase Unknown")
		default: // "", Pending, Scheduling, Scheduled, WaitingForSync
			return none(AlreadyStarting, "the VirtualMachine's instance is starting")
		}
	}
	if vmCondition(vm, kubevirtv1.VirtualMachineManualRecoveryRequired) {
		return refuse(ReasonManualRecoveryRequired,
			"the VirtualMachine needs manual recovery (condition ManualRecoveryRequired)")
	}
	if last, ok := lastRequest(vm); ok && last == kubevirtv1.StartRequest {
		return none(AlreadyStarting, "a start request is already pending")
	}
	switch rs {
	case kubevirtv1.RunStrategyHalted, kubevirtv1.RunStrategyManual:
		return Decision{Action: ActionStart}
	case kubevirtv1.RunStrategyRerunOnFailure:
		if vmi != nil && vmi.Status.Phase == kubevirtv1.Failed {
			// virt-api answers 409 ("does not support starting VM from
			// failed state"), but virt-controller restarts such a
			// VirtualMachine by itself: it is starting.
			return none(AlreadyStarting,
				"run strategy RerunOnFailure: KubeVirt restarts the VirtualMachine after its failed run by itself")
		}
		return Decision{Action: ActionStart}
	case kubevirtv1.RunStrategyAlways:
		return none(AlreadyStarting, "run strategy Always: KubeVirt starts the VirtualMachine by itself")
	case kubevirtv1.RunStrategyOnce:
		if vmi == nil {
			return none(AlreadyStarting, "run strategy Once: KubeVirt starts the VirtualMachine by itself")
		}
		return refuse(ReasonOnceCompleted, "run strategy Once: the VirtualMachine has already run")
	case kubevirtv1.RunStrategyWaitAsReceiver:
		if vmi == nil {
			return none(AlreadyStarting,
				"run strategy WaitAsReceiver: KubeVirt creates the instance that receives the migration by itself")
		}
		return refuse(ReasonWaitAsReceiver,
			"run strategy WaitAsReceiver: the VirtualMachine waits for an incoming migration")
	default:
		return refuse(ReasonInvalidRunStrategy, "unknown run strategy "+string(rs))
	}
}

func none(o Outcome, msg string) Decision { return Decision{Outcome: o, Message: msg} }

func refuse(r Reason, msg string) Decision {
	return Decision{Outcome: Refused, Reason: r, Message: msg}
}

// isStopping reports whether KubeVirt is stopping vm (see Decide).
func isStopping(
	vm *kubevirtv1.VirtualMachine,
	vmi *kubevirtv1.VirtualMachineInstance,
	rs kubevirtv1.VirtualMachineRunStrategy,
) bool {
	if last, ok := lastRequest(vm); ok && last == kubevirtv1.StopRequest {
		return true
	}
	if vmi == nil {
		return false
	}
	// An instance being deleted is going away, finished or not: wait for
	// it. (virt-api would take a start for a finished one at once for some
	// strategies, but virt-controller restarts nothing that is being
	// deleted — a RerunOnFailure VM's failed instance among them — so
	// deciding on it would lose the wake.)
	if vmi.DeletionTimestamp != nil {
		return true
	}
	return !vmi.IsFinal() && (vm.Status.PrintableStatus == kubevirtv1.VirtualMachineStatusStopping ||
		rs == kubevirtv1.RunStrategyHalted)
}

func lastRequest(vm *kubevirtv1.VirtualMachine) (kubevirtv1.StateChangeRequestAction, bool) {
	if n := len(vm.Status.StateChangeRequests); n > 0 {
		return vm.Status.StateChangeRequests[n-1].Action, true
	}
	return "", false
}

func instancePaused(vmi *kubevirtv1.VirtualMachineInstance) bool {
	for _, c := range vmi.Status.Conditions {
		if c.Type == kubevirtv1.VirtualMachineInstancePaused && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func vmCondition(vm *kubevirtv1.VirtualMachine, t kubevirtv1.VirtualMachineConditionType) bool {
	for _, c := range vm.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
