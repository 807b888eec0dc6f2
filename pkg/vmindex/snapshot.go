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

package vmindex

import (
	"slices"

	"k8s.io/apimachinery/pkg/types"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Snapshot is a consistent summary of an [Index]: exact counts, and sorted
// lists bounded by the limit given to [Index.Snapshot].
type Snapshot struct {
	// Mode is the discovery mode of the index's scope.
	Mode wolv1beta1.DiscoveryMode
	// InScopeVMs is the number of VirtualMachines in scope (existing ones
	// only, in Explicit mode).
	InScopeVMs int
	// ManagedVMs is the number of wakeable VirtualMachines: in scope and
	// owning at least one MAC address that no other VirtualMachine in scope
	// claims. This is the wol_managed_vms gauge and WolConfig
	// status.managedVMs.
	ManagedVMs int
	// MACs is the number of MAC addresses that wake exactly one
	// VirtualMachine.
	MACs int
	// ConflictCount is the number of MAC addresses claimed by two or more
	// VirtualMachines in scope; a magic packet for one of them wakes none.
	ConflictCount int
	// Conflicts lists them, sorted by MAC address.
	Conflicts []ConflictEntry
	// NotWakeableCount is the number of VirtualMachines in scope that no MAC
	// address can wake, because none of their interfaces has a valid fixed
	// MAC address.
	NotWakeableCount int
	// NotWakeable lists them, sorted by namespace and name.
	NotWakeable []VMIssue
	// PartlyFixedCount is the number of wakeable VirtualMachines that also
	// have interfaces without a valid fixed MAC address (those interfaces
	// cannot be targeted).
	PartlyFixedCount int
	// PartlyFixed lists them, sorted by namespace and name.
	PartlyFixed []VMIssue
	// MissingMappingCount is the number of explicit mappings whose
	// VirtualMachine does not exist (Explicit mode).
	MissingMappingCount int
	// MissingMappings lists them, sorted by MAC address.
	MissingMappings []Mapping
}

// ConflictEntry is one MAC address claimed by several VirtualMachines.
type ConflictEntry struct {
	// MAC is the contested address.
	MAC wol.MAC
	// VMs are every claimant, sorted by namespace and name.
	VMs []types.NamespacedName
}

// VMIssue names a VirtualMachine and its interfaces that cannot be targeted
// by a magic packet.
type VMIssue struct {
	// VM is the VirtualMachine.
	VM types.NamespacedName
	// Unfixed names its interfaces without a fixed MAC address (KubeVirt
	// generates a new one at every start). Empty for a VirtualMachine that
	// declares no interface, which gets KubeVirt's default one.
	Unfixed []string
	// Invalid names its interfaces whose macAddress is not a unicast MAC
	// address.
	Invalid []string
}

// Snapshot returns the counts and, for each list, at most limit entries
// (all of them if limit is negative; none if it is 0, which costs O(1)).
// Lists are sorted so that two snapshots of the same index are equal.
func (x *Index) Snapshot(limit int) Snapshot {
	x.mu.RLock()
	defer x.mu.RUnlock()
	st := x.st
	s := Snapshot{
		Mode:                st.scope.mode,
		InScopeVMs:          len(st.vms),
		ManagedVMs:          st.managed,
		MACs:                len(st.byMAC) - st.conflicts,
		ConflictCount:       st.conflicts,
		NotWakeableCount:    st.notWakeable,
		PartlyFixedCount:    st.partlyFixed,
		MissingMappingCount: st.missingMappings(),
	}
	if limit == 0 {
		return s
	}
	if st.conflicts > 0 {
		for mac, e := range st.byMAC {
			if len(e.owners) > 1 {
				vms := slices.Clone(e.owners)
				slices.SortFunc(vms, compareNames)
				s.Conflicts = append(s.Conflicts, ConflictEntry{MAC: mac, VMs: vms})
			}
		}
		slices.SortFunc(s.Conflicts, func(a, b ConflictEntry) int { return compareMACs(a.MAC, b.MAC) })
		s.Conflicts = truncate(s.Conflicts, limit)
	}
	if st.notWakeable+st.partlyFixed > 0 {
		for key, e := range st.vms {
			if len(e.unfixed)+len(e.invalid) == 0 && len(e.macs) > 0 {
				continue
			}
			issue := VMIssue{VM: key, Unfixed: slices.Clone(e.unfixed), Invalid: slices.Clone(e.invalid)}
			if len(e.macs) == 0 {
				s.NotWakeable = append(s.NotWakeable, issue)
			} else {
				s.PartlyFixed = append(s.PartlyFixed, issue)
			}
		}
		byVM := func(a, b VMIssue) int { return compareNames(a.VM, b.VM) }
		slices.SortFunc(s.NotWakeable, byVM)
		slices.SortFunc(s.PartlyFixed, byVM)
		s.NotWakeable = truncate(s.NotWakeable, limit)
		s.PartlyFixed = truncate(s.PartlyFixed, limit)
	}
	if s.MissingMappingCount > 0 {
		for _, m := range st.scope.mappings { // sorted by MAC
			if _, ok := st.vms[m.VM]; !ok {
				s.MissingMappings = append(s.MissingMappings, m)
				if len(s.MissingMappings) == limit {
					break
				}
			}
		}
	}
	return s
}

func truncate[T any](list []T, limit int) []T {
	if limit >= 0 && len(list) > limit {
		return slices.Clip(list[:limit])
	}
	return list
}
