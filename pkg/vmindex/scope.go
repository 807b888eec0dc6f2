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
	"fmt"
	"net"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// DefaultResync is the resynchronisation period used when a WolConfig leaves
// cacheTTL unset (the API server defaults it to the same 300 seconds).
const DefaultResync = time.Duration(wolv1beta1.DefaultCacheTTLSeconds) * time.Second

// Scope is the set of discovery rules of one WolConfig: which
// VirtualMachines may be woken, and by which MAC addresses. A Scope is
// immutable once built; build a new one when the WolConfig changes.
type Scope struct {
	mode       wolv1beta1.DiscoveryMode
	namespaces []string            // sorted; nil means every namespace
	nsSet      map[string]struct{} // nil means every namespace
	selector   labels.Selector     // LabelSelector mode only
	mappings   []Mapping           // Explicit mode only, sorted by MAC
	byVM       map[types.NamespacedName][]wol.MAC
	byMAC      map[wol.MAC]types.NamespacedName // Explicit mode only
	resync     time.Duration
}

// Mapping is one explicit MAC → VirtualMachine mapping of a Scope.
type Mapping struct {
	// MAC is the address a magic packet carries.
	MAC wol.MAC
	// VM is the VirtualMachine it wakes.
	VM types.NamespacedName
}

// ScopeFromSpec builds the Scope of a WolConfig spec. An empty discovery
// mode means All (the API default). It fails on an invalid label selector or
// MAC address, which the API server's validation normally rules out.
func ScopeFromSpec(spec wolv1beta1.WolConfigSpec) (*Scope, error) {
	s := &Scope{mode: spec.DiscoveryMode, resync: DefaultResync}
	if s.mode == "" {
		s.mode = wolv1beta1.DiscoveryModeAll
	}
	if spec.CacheTTL != nil {
		if *spec.CacheTTL < 0 {
			return nil, fmt.Errorf("cacheTTL %d is negative", *spec.CacheTTL)
		}
		s.resync = time.Duration(*spec.CacheTTL) * time.Second
	}
	switch s.mode {
	case wolv1beta1.DiscoveryModeAll:
		s.setNamespaces(spec.NamespaceSelectors)
	case wolv1beta1.DiscoveryModeLabelSelector:
		if spec.VMSelector == nil {
			return nil, fmt.Errorf("discovery mode %s needs vmSelector", s.mode)
		}
		sel, err := metav1.LabelSelectorAsSelector(spec.VMSelector)
		if err != nil {
			return nil, fmt.Errorf("vmSelector: %w", err)
		}
		s.selector = sel
		s.setNamespaces(spec.NamespaceSelectors)
	case wolv1beta1.DiscoveryModeExplicit:
		s.byVM = make(map[types.NamespacedName][]wol.MAC, len(spec.ExplicitMappings))
		s.byMAC = make(map[wol.MAC]types.NamespacedName, len(spec.ExplicitMappings))
		var namespaces []string
		for _, m := range spec.ExplicitMappings {
			mac, err := wol.ParseMAC(m.MACAddress)
			if err != nil {
				return nil, fmt.Errorf("explicit mapping for %s/%s: %w", m.Namespace, m.VMName, err)
			}
			if !mac.IsUnicast() {
				return nil, fmt.Errorf("explicit mapping for %s/%s: %s is not a unicast MAC address", m.Namespace, m.VMName, mac)
			}
			key := types.NamespacedName{Namespace: m.Namespace, Name: m.VMName}
			if slices.Contains(s.byVM[key], mac) {
				continue
			}
			// The API forbids one MAC address in two mappings; should it
			// happen anyway, both claims are kept and the index reports a
			// conflict instead of picking one.
			s.mappings = append(s.mappings, Mapping{MAC: mac, VM: key})
			s.byMAC[mac] = key
			s.byVM[key] = append(s.byVM[key], mac)
			namespaces = append(namespaces, m.Namespace)
		}
		slices.SortFunc(s.mappings, compareMappings)
		// Explicit mode watches exactly the namespaces the mappings name.
		s.setNamespaces(namespaces)
		if s.namespaces == nil {
			s.namespaces, s.nsSet = []string{}, map[string]struct{}{}
		}
	default:
		return nil, fmt.Errorf("unknown discovery mode %q", s.mode)
	}
	return s, nil
}

func (s *Scope) setNamespaces(names []string) {
	if len(names) == 0 {
		return
	}
	s.nsSet = make(map[string]struct{}, len(names))
	for _, n := range names {
		s.nsSet[n] = struct{}{}
	}
	s.namespaces = make([]string, 0, len(s.nsSet))
	for n := range s.nsSet {
		s.namespaces = append(s.namespaces, n)
	}
	slices.Sort(s.namespaces)
}

// Mode is the discovery mode.
func (s *Scope) Mode() wolv1beta1.DiscoveryMode { return s.mode }

// Namespaces returns the namespaces whose VirtualMachines can be in scope,
// sorted, or nil for every namespace. In Explicit mode these are the
// namespaces the mappings name. The caller must not modify the slice.
func (s *Scope) Namespaces() []string { return s.namespaces }

// AllNamespaces reports whether VirtualMachines of every namespace can be in
// scope.
func (s *Scope) AllNamespaces() bool { return s.nsSet == nil }

// Resync is the period of the full re-evaluation of cached VirtualMachines
// (the WolConfig's cacheTTL); 0 means never.
func (s *Scope) Resync() time.Duration { return s.resync }

// Mappings returns the explicit mappings (Explicit mode), sorted by MAC. The
// caller must not modify the slice.
func (s *Scope) Mappings() []Mapping { return s.mappings }

// Contribution is what one VirtualMachine contributes to an index built for a
// Scope. It is the result of the pure function [Scope.Evaluate].
type Contribution struct {
	// InScope reports whether the VirtualMachine is selected by the scope:
	// in a selected namespace and, in LabelSelector mode, matching the
	// selector; in Explicit mode, named by a mapping.
	InScope bool
	// MACs are the addresses that wake the VirtualMachine, sorted and
	// without duplicates: its interfaces' fixed MAC addresses, or in
	// Explicit mode the mapped addresses (a mapping wins over the spec).
	MACs []wol.MAC
	// Unfixed names the interfaces without a fixed MAC address (All and
	// LabelSelector modes). Such an interface gets a new MAC address at
	// every start, so no magic packet can be relied on to reach it.
	Unfixed []string
	// Invalid names the interfaces whose macAddress is not a unicast MAC
	// address (All and LabelSelector modes).
	Invalid []string
	// SecureOnKey is the value of the VirtualMachine's
	// wol.pillon.org/secureon-key annotation: the key of its own SecureOn
	// password in the Secret kubevirt-wol-secureon of its namespace ("" if
	// it has none). Set only when InScope.
	SecureOnKey string
	// UID is the VirtualMachine's UID, for events about it. Set only when
	// InScope.
	UID types.UID
}

// Wakeable reports whether at least one MAC address can wake the
// VirtualMachine (conflicts with other VirtualMachines aside).
func (c Contribution) Wakeable() bool { return c.InScope && len(c.MACs) > 0 }

// NotWakeable reports whether the VirtualMachine is in scope but no MAC
// address can wake it, because none of its interfaces has a valid fixed MAC
// address (or it has no interface, in which case KubeVirt adds one with a
// generated address).
func (c Contribution) NotWakeable() bool { return c.InScope && len(c.MACs) == 0 }

// Evaluate returns what vm contributes under the scope. It is pure: it reads
// only its arguments. vm may be a full object or one stripped by [StripVM].
func (s *Scope) Evaluate(vm *kubevirtv1.VirtualMachine) Contribution {
	if vm == nil {
		return Contribution{}
	}
	var ifaces []kubevirtv1.Interface
	if vm.Spec.Template != nil {
		ifaces = vm.Spec.Template.Spec.Domain.Devices.Interfaces
	}
	return s.evaluate(vmFacts{namespace: vm.Namespace, name: vm.Name, uid: vm.UID, labels: vm.Labels,
		secureOnKey: vm.Annotations[wolv1beta1.SecureOnKeyAnnotation], interfaces: len(ifaces),
		iface: func(i int) (string, string) { return ifaces[i].Name, ifaces[i].MacAddress }})
}

// vmFacts are the parts of a VirtualMachine the evaluation reads: its
// identity, labels, SecureOn key annotation and interfaces (name and
// macAddress of the i-th of n).
type vmFacts struct {
	namespace, name string
	uid             types.UID
	labels          map[string]string
	secureOnKey     string
	interfaces      int
	iface           func(i int) (name, mac string)
}

// evaluate is Evaluate on the facts of a VirtualMachine.
func (s *Scope) evaluate(vm vmFacts) Contribution {
	var c Contribution
	if s.mode == wolv1beta1.DiscoveryModeExplicit {
		macs := s.byVM[types.NamespacedName{Namespace: vm.namespace, Name: vm.name}]
		if len(macs) == 0 {
			return c
		}
		c.InScope, c.SecureOnKey, c.UID = true, vm.secureOnKey, vm.uid
		c.MACs = slices.Clone(macs)
		slices.SortFunc(c.MACs, compareMACs)
		return c
	}
	if s.nsSet != nil {
		if _, ok := s.nsSet[vm.namespace]; !ok {
			return c
		}
	}
	if s.mode == wolv1beta1.DiscoveryModeLabelSelector && !s.selector.Matches(labels.Set(vm.labels)) {
		return c
	}
	c.InScope, c.SecureOnKey, c.UID = true, vm.secureOnKey, vm.uid
	for i := range vm.interfaces {
		ifName, ifMAC := vm.iface(i)
		if ifMAC == "" {
			c.Unfixed = append(c.Unfixed, ifName)
			continue
		}
		mac, ok := ParseMAC(ifMAC)
		if !ok {
			c.Invalid = append(c.Invalid, ifName)
			continue
		}
		if !slices.Contains(c.MACs, mac) {
			c.MACs = append(c.MACs, mac)
		}
	}
	slices.SortFunc(c.MACs, compareMACs)
	return c
}

// ParseMAC normalises a MAC address as KubeVirt accepts it in
// spec.template.spec.domain.devices.interfaces[].macAddress: six hexadecimal
// pairs separated by ':' or '-' in any case, or the dotted
// "5254.0012.3456" form. It reports false for anything else and for
// addresses that no network card has (zero, broadcast, multicast), which a
// magic packet cannot target.
func ParseMAC(s string) (wol.MAC, bool) {
	mac, err := wol.ParseMAC(s)
	if err != nil {
		hw, err2 := net.ParseMAC(s)
		if err2 != nil || len(hw) != len(mac) {
			return wol.MAC{}, false
		}
		copy(mac[:], hw)
	}
	return mac, mac.IsUnicast()
}

func compareMACs(a, b wol.MAC) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func compareMappings(a, b Mapping) int {
	if c := compareMACs(a.MAC, b.MAC); c != 0 {
		return c
	}
	return compareNames(a.VM, b.VM)
}

func compareNames(a, b types.NamespacedName) int {
	if a.Namespace != b.Namespace {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}
	if a.Name < b.Name {
		return -1
	}
	if a.Name > b.Name {
		return 1
	}
	return 0
}
