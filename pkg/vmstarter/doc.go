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

// Package vmstarter starts a KubeVirt VirtualMachine the way `virtctl start`
// does, on behalf of a Wake-on-LAN magic packet.
//
// [Starter.Start] reads the VirtualMachine and its instance, decides what a
// start means for it ([Decide], a pure function of KubeVirt's per-run-strategy
// semantics) and acts:
//
//   - through KubeVirt's aggregated API (subresources.kubevirt.io/v1, the
//     start and unpause subresources, via the typed clientset of
//     kubevirt.io/client-go) when the cluster serves it;
//   - otherwise by applying to the VirtualMachine the very change virt-api
//     would make ([RunningPatch], [ChangeRequestPatch]), with a JSON-patch
//     test of the value it replaces.
//
// Exactly-once under concurrency (several listener replicas hear the same
// broadcast) rests on the API server alone: every write carries a
// precondition, the losers get a conflict, read the VirtualMachine again and
// report that the start is already under way. No lock is held outside the
// API server and nothing is ever restored later.
//
// A VirtualMachine that is still stopping is waited for (bounded), then
// started. Each action is reported by an event on the VirtualMachine and by
// metrics. See docs/starting-vms.md.
package vmstarter
