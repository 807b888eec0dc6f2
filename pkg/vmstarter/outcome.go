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
	"errors"
	"time"
)

// unknown is what the String methods of this package return for a value
// outside their type's set.
const unknown = "unknown"

// Outcome is what a call to [Starter.Start] did. String gives the value of
// the "outcome" metric label.
type Outcome uint8

// Outcomes.
const (
	// Started: this call asked KubeVirt to start the VirtualMachine, and the
	// request was accepted. Exactly one of any number of concurrent calls
	// for a stopped VirtualMachine reports it.
	Started Outcome = iota + 1
	// Unpaused: the VirtualMachine's instance was paused; this call unpaused
	// it.
	Unpaused
	// AlreadyRunning: the VirtualMachine's instance is running; nothing was
	// done.
	AlreadyRunning
	// AlreadyStarting: a start is already under way (a pending start
	// request, an instance being scheduled, a run strategy under which
	// KubeVirt starts the VirtualMachine by itself, or another caller that
	// won the race); nothing was done.
	AlreadyStarting
	// Refused: KubeVirt would refuse to start this VirtualMachine now; the
	// Result's Reason says why. Nothing was done.
	Refused
	// NotFound: the VirtualMachine does not exist.
	NotFound
	// Failed: the call failed; Start returned an error.
	Failed

	numOutcomes = iota + 1
)

var outcomeNames = [numOutcomes]string{
	unknown, "started", "unpaused", "already_running", "already_starting", "refused", "not_found", "failed",
}

// String returns "started", "unpaused", "already_running",
// "already_starting", "refused", "not_found" or "failed".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return outcomeNames[0]
}

// Reason qualifies an outcome, mostly Refused and Failed. The values are
// stable, CamelCase, and safe as an event or condition reason.
type Reason string

// Reasons.
const (
	// ReasonNone: the outcome needs no further explanation.
	ReasonNone Reason = ""
	// ReasonWaitAsReceiver: the run strategy is WaitAsReceiver (the
	// VirtualMachine waits for an incoming migration); KubeVirt's start does
	// nothing for it.
	ReasonWaitAsReceiver Reason = "WaitAsReceiver"
	// ReasonOnceCompleted: the run strategy is Once and the VirtualMachine
	// has already run; KubeVirt does not start it again.
	ReasonOnceCompleted Reason = "OnceCompleted"
	// ReasonManualRecoveryRequired: the VirtualMachine has the
	// ManualRecoveryRequired condition; KubeVirt refuses to start it.
	ReasonManualRecoveryRequired Reason = "ManualRecoveryRequired"
	// ReasonVMTerminating: the VirtualMachine is being deleted.
	ReasonVMTerminating Reason = "VMTerminating"
	// ReasonInvalidRunStrategy: spec.running and spec.runStrategy are both
	// set, or the run strategy is unknown.
	ReasonInvalidRunStrategy Reason = "InvalidRunStrategy"
	// ReasonUnpauseUnavailable: the instance is paused, but KubeVirt's
	// subresource API (the only way to unpause) is not served.
	ReasonUnpauseUnavailable Reason = "UnpauseUnavailable"
	// ReasonStillStopping: the VirtualMachine was still stopping when the
	// wake's deadline passed (outcome Failed).
	ReasonStillStopping Reason = "StillStopping"
	// ReasonSubresourceNotServed: the cluster does not register KubeVirt's
	// subresource API and the WolConfig does not allow direct patches
	// (spec.directPatchFallback) (outcome Failed).
	ReasonSubresourceNotServed Reason = "SubresourceAPINotRegistered"
	// ReasonRejected: KubeVirt or the API server refused the request, and
	// reading the VirtualMachine again showed nothing had changed, so the
	// refusal stands; the message carries the server's words (outcome
	// Failed).
	ReasonRejected Reason = "Rejected"
	// ReasonAPIError: an API call failed (outcome Failed).
	ReasonAPIError Reason = "APIError"
	// ReasonDeadlineExceeded: the call's context deadline (the listener's
	// wake deadline) passed before the VirtualMachine could be started,
	// typically because the API server was unreachable (outcome Failed).
	ReasonDeadlineExceeded Reason = "DeadlineExceeded"
	// ReasonTooManyConflicts: every attempt lost a race with another writer
	// (outcome Failed).
	ReasonTooManyConflicts Reason = "TooManyConflicts"
)

// Path is the way a start or unpause was carried out. String gives the value
// of the "path" metric label.
type Path uint8

// Paths.
const (
	// PathNone: nothing was written.
	PathNone Path = iota
	// PathSubresource: through KubeVirt's subresources.kubevirt.io API
	// (what virtctl does).
	PathSubresource
	// PathDirect: by patching the VirtualMachine with the same change
	// virt-api makes, because the subresource API is not registered.
	PathDirect
)

var pathNames = [...]string{"none", "subresource", "direct"}

// String returns "none", "subresource" or "direct".
func (p Path) String() string {
	if int(p) < len(pathNames) {
		return pathNames[p]
	}
	return unknown
}

// Result describes one call to [Starter.Start].
type Result struct {
	// Outcome is what happened.
	Outcome Outcome
	// Reason qualifies Refused and Failed outcomes.
	Reason Reason
	// Message is a human-readable detail (also used in events).
	Message string
	// Path is how the action was carried out (Started and Unpaused only).
	Path Path
	// Attempts is the number of times the VirtualMachine was read and
	// evaluated (1 unless a race was lost or the VirtualMachine was
	// stopping).
	Attempts int
	// Conflicts is the number of writes that lost a race with another
	// writer (HTTP 409 or a failed JSON-patch test) and were re-evaluated.
	Conflicts int
	// Waited is how long the call waited for a stopping VirtualMachine.
	Waited time.Duration
}

// Errors returned (wrapped) by Start with outcome Failed.
var (
	// ErrStillStopping: the VirtualMachine did not finish stopping before
	// the wake's deadline.
	ErrStillStopping = errors.New("virtual machine still stopping")
	// ErrSubresourceNotServed: KubeVirt's subresource API is not registered,
	// and direct patches are not allowed.
	ErrSubresourceNotServed = errors.New("KubeVirt's subresource API (" + SubresourceGroupVersion +
		") is not registered on this cluster; " +
		"set the WolConfig's spec.directPatchFallback to start VirtualMachines by patching them")
	// ErrTooManyConflicts: the start lost too many races in a row.
	ErrTooManyConflicts = errors.New("too many conflicting writes")
)
