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

package v1beta1

// Condition types of a WolConfig's status.
const (
	// ConditionReady is True when at least one listener pod is ready, so a
	// magic packet for a managed VM wakes it.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the listener Deployment rolls out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when something needs the user's attention.
	ConditionDegraded = "Degraded"
)

// Condition reasons (constant, CamelCase, as API conventions ask).
const (
	// ReasonListenerReady: Ready, a listener pod is ready.
	ReasonListenerReady = "ListenerReady"
	// ReasonListenerNotReady: not Ready, no listener pod is ready yet.
	ReasonListenerNotReady = "ListenerNotReady"
	// ReasonScaledToZero: not Ready, spec.listener.replicas is 0.
	ReasonScaledToZero = "ScaledToZero"
	// ReasonPortConflict: not Ready and Degraded, another WolConfig's
	// listeners need the same host ports on the same nodes.
	ReasonPortConflict = "PortConflict"
	// ReasonApplyFailed: an owned object could not be written.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonInvalidSpec: the spec cannot be used (the API server normally
	// refuses such a spec).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonRollingOut: Progressing, the listener Deployment rolls out.
	ReasonRollingOut = "RollingOut"
	// ReasonRolloutComplete: not Progressing, the Deployment is up to date.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonMACConflict: Degraded, VMs in scope share a MAC address (none
	// of them is woken).
	ReasonMACConflict = "MACConflict"
	// ReasonMissingVM: Degraded, an explicit mapping names a VM that does
	// not exist.
	ReasonMissingVM = "MissingVM"
	// ReasonAsExpected: not Degraded.
	ReasonAsExpected = "AsExpected"
)
