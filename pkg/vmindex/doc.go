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

// Package vmindex answers "which VirtualMachine does this MAC address wake?".
//
// It has three layers, from pure to wired:
//
//   - [Scope] is a WolConfig's discovery rules (mode, namespaces, label
//     selector, explicit mappings). [Scope.Evaluate] is a pure function that
//     says what one VirtualMachine contributes under those rules: whether it
//     is in scope, the MAC addresses it can be woken by, and the interfaces
//     that have no fixed MAC address. The operator uses it (through an
//     [Index]) to compute a WolConfig's status.
//   - [Index] is the MAC → VirtualMachine map built from those
//     contributions. It is updated incrementally, one VirtualMachine at a
//     time ([Index.Upsert], [Index.Delete]); [Index.Lookup] is O(1) and does
//     not allocate. A MAC address claimed by two VirtualMachines is a
//     conflict: it wakes neither, and both are reported by [Index.Snapshot].
//   - [Watcher] feeds an Index from client-go informers on KubeVirt
//     VirtualMachines: one watch per selected namespace (or one cluster-wide
//     watch when no namespace is selected), with a transform so that the
//     cache keeps only what the index reads (identity, labels, interface
//     names and MAC addresses). [StripVM] is the same idea for caches that
//     must keep the VirtualMachine type, such as the operator's.
//
// The package knows nothing of the listener or the manager; see
// docs/vmindex.md.
package vmindex
