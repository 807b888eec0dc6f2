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
	"iter"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Resolution says how [Index.Resolve] answered for a MAC address.
type Resolution uint8

// Resolutions. String gives a short, stable form for logs.
const (
	// NotFound: no VirtualMachine in scope has this MAC address.
	NotFound Resolution = iota
	// Found: exactly one VirtualMachine in scope has this MAC address.
	Found
	// Conflict: two or more VirtualMachines in scope claim this MAC address;
	// none of them is woken.
	Conflict
	// MappedVMMissing: an explicit mapping names this MAC address, but its
	// VirtualMachine does not exist (Explicit mode).
	MappedVMMissing
)

var resolutionNames = [...]string{"not_found", "found", "conflict", "mapped_vm_missing"}

// String returns "not_found", "found", "conflict" or "mapped_vm_missing".
func (r Resolution) String() string {
	if int(r) < len(resolutionNames) {
		return resolutionNames[r]
	}
	return "unknown"
}

// Index maps MAC addresses to the VirtualMachines they wake, under one
// [Scope]. It is safe for concurrent use: lookups take a read lock and never
// allocate; updates are incremental, one VirtualMachine at a time.
//
// The zero value is not usable; call [NewIndex] or [Build].
type Index struct {
	// wmu serialises writers. Reset holds it while it rebuilds, so that
	// lookups (which only take mu) go on meanwhile and no update is lost.
	wmu sync.Mutex
	// mu guards st against readers; writers hold it only while mutating.
	mu      sync.RWMutex
	st      *state
	metrics *metrics
}

// NewIndex returns an empty index for scope (not nil). If reg is not nil the index
// registers and maintains the gauges documented in docs/metrics.md on it
// (reusing collectors already registered there by an earlier index).
func NewIndex(scope *Scope, reg prometheus.Registerer) (*Index, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	x := &Index{st: newState(scope), metrics: m}
	x.publish()
	return x, nil
}

// Build returns an index of vms under scope, without metrics. It is what the
// operator uses to compute a WolConfig's status from its own cache:
//
//	idx := vmindex.Build(scope, slices.Values(vms))
//	snap := idx.Snapshot(10)
func Build(scope *Scope, vms iter.Seq[*kubevirtv1.VirtualMachine]) *Index {
	x := &Index{st: newState(scope)}
	for vm := range vms {
		x.st.upsert(keyOf(vm), scope.Evaluate(vm))
	}
	return x
}

// Scope returns the scope the index is built for.
func (x *Index) Scope() *Scope {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.st.scope
}

// Lookup returns the VirtualMachine that mac wakes. It reports false when no
// VirtualMachine in scope has mac, when several do (a conflict), and when an
// explicit mapping names a VirtualMachine that does not exist. It is O(1) and
// does not allocate.
func (x *Index) Lookup(mac wol.MAC) (types.NamespacedName, bool) {
	vm, r := x.Resolve(mac)
	return vm, r == Found
}

// Resolve is Lookup with the reason of a miss. For Found and MappedVMMissing
// it returns the VirtualMachine; for Conflict, one of the claimants (see
// [Index.Snapshot] for all of them). It is O(1) and does not allocate.
func (x *Index) Resolve(mac wol.MAC) (types.NamespacedName, Resolution) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if e, ok := x.st.byMAC[mac]; ok {
		if len(e.owners) == 1 {
			return e.owners[0], Found
		}
		return e.owners[0], Conflict
	}
	if vm, ok := x.st.scope.byMAC[mac]; ok {
		return vm, MappedVMMissing
	}
	return types.NamespacedName{}, NotFound
}

// Target is what a wake needs to know of the VirtualMachine a MAC address
// wakes.
type Target struct {
	// VM is the VirtualMachine.
	VM types.NamespacedName
	// UID is its UID, for events about it.
	UID types.UID
	// SecureOnKey is the key of its own SecureOn password in the Secret
	// kubevirt-wol-secureon of its namespace, from its
	// wol.pillon.org/secureon-key annotation; "" if it has none.
	SecureOnKey string
}

// Target is Resolve with what a wake needs of the VirtualMachine: its UID
// and SecureOn key. Only the VM field is set unless the resolution is
// Found. It is O(1) and does not allocate.
func (x *Index) Target(mac wol.MAC) (Target, Resolution) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if e, ok := x.st.byMAC[mac]; ok {
		key := e.owners[0]
		if len(e.owners) > 1 {
			return Target{VM: key}, Conflict
		}
		t := Target{VM: key}
		if v := x.st.vms[key]; v != nil {
			t.UID, t.SecureOnKey = v.uid, v.secureOnKey
		}
		return t, Found
	}
	if vm, ok := x.st.scope.byMAC[mac]; ok {
		return Target{VM: vm}, MappedVMMissing
	}
	return Target{}, NotFound
}

// SecureOnNamespaces returns, sorted, the namespaces of the VirtualMachines
// in scope that name their own SecureOn password (annotation
// wol.pillon.org/secureon-key): where the listener needs to read the Secret
// kubevirt-wol-secureon.
func (x *Index) SecureOnNamespaces() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]string, 0, len(x.st.secureOnNS))
	for ns := range x.st.secureOnNS {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// Upsert adds or updates vm: it is re-evaluated under the index's scope and
// only the difference with its previous contribution is applied. A
// VirtualMachine that left the scope is removed.
func (x *Index) Upsert(vm *kubevirtv1.VirtualMachine) {
	if vm == nil {
		return
	}
	x.upsert(keyOf(vm), func(s *Scope) Contribution { return s.Evaluate(vm) })
}

// upsert applies eval's contribution (evaluated under the current scope) for
// key.
func (x *Index) upsert(key types.NamespacedName, eval func(*Scope) Contribution) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	c := eval(x.st.scope)
	x.mu.Lock()
	changed := x.st.upsert(key, c)
	x.mu.Unlock()
	if changed {
		x.publish()
	}
}

// Delete removes the VirtualMachine key, if present.
func (x *Index) Delete(key types.NamespacedName) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	e, ok := x.st.vms[key]
	if !ok {
		return
	}
	x.mu.Lock()
	x.st.remove(key, e)
	x.mu.Unlock()
	x.publish()
}

// Reset replaces the scope and rebuilds the index from vms, which must be
// every VirtualMachine the caller knows of (those out of scope are skipped).
// vms is iterated while other updates wait, so an update of a VirtualMachine
// that happens after it was read is applied after the rebuild, never lost.
// Lookups keep answering from the previous index until the new one replaces
// it.
func (x *Index) Reset(scope *Scope, vms iter.Seq[*kubevirtv1.VirtualMachine]) {
	x.reset(scope, func(yield func(types.NamespacedName, Contribution) bool) {
		if vms == nil {
			return
		}
		for vm := range vms {
			if !yield(keyOf(vm), scope.Evaluate(vm)) {
				return
			}
		}
	})
}

// reset is Reset on contributions already evaluated under scope.
func (x *Index) reset(scope *Scope, contributions iter.Seq2[types.NamespacedName, Contribution]) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	st := newState(scope)
	for key, c := range contributions {
		st.upsert(key, c)
	}
	x.mu.Lock()
	x.st = st
	x.mu.Unlock()
	x.publish()
}

// publish copies the counters to the gauges. Called with wmu held.
func (x *Index) publish() {
	if x.metrics == nil {
		return
	}
	st := x.st
	x.metrics.managed.Set(float64(st.managed))
	x.metrics.conflicts.Set(float64(st.conflicts))
	x.metrics.notWakeable.Set(float64(st.notWakeable))
	x.metrics.missing.Set(float64(st.missingMappings()))
}

func keyOf(vm *kubevirtv1.VirtualMachine) types.NamespacedName {
	return types.NamespacedName{Namespace: vm.Namespace, Name: vm.Name}
}

// state is the index proper. Counters are maintained incrementally.
type state struct {
	scope *Scope
	byMAC map[wol.MAC]macEntry
	vms   map[types.NamespacedName]*vmEntry // VirtualMachines in scope
	// secureOnNS counts, per namespace, the VirtualMachines in scope that
	// name their own SecureOn password.
	secureOnNS map[string]int

	managed       int // VMs owning at least one MAC alone
	conflicts     int // MACs claimed by two or more VMs
	notWakeable   int // VMs in scope without any usable MAC
	partlyFixed   int // wakeable VMs with interfaces that have no usable MAC
	mappedPresent int // explicit mappings whose VM exists (Explicit mode)
}

type macEntry struct {
	owners []types.NamespacedName // one owner, or the claimants of a conflict
}

type vmEntry struct {
	macs        []wol.MAC // sorted
	unique      int       // how many of macs this VM owns alone
	unfixed     []string
	invalid     []string
	secureOnKey string
	uid         types.UID
}

func newState(scope *Scope) *state {
	return &state{
		scope:      scope,
		byMAC:      make(map[wol.MAC]macEntry),
		vms:        make(map[types.NamespacedName]*vmEntry),
		secureOnNS: make(map[string]int),
	}
}

func (st *state) explicit() bool { return st.scope.mode == wolv1beta1.DiscoveryModeExplicit }

func (st *state) missingMappings() int {
	if !st.explicit() {
		return 0
	}
	return len(st.scope.mappings) - st.mappedPresent
}

// upsert applies c as the contribution of key and reports whether anything
// changed.
func (st *state) upsert(key types.NamespacedName, c Contribution) bool {
	e, exists := st.vms[key]
	if !c.InScope {
		if exists {
			st.remove(key, e)
			return true
		}
		return false
	}
	if exists {
		if slices.Equal(e.macs, c.MACs) && slices.Equal(e.unfixed, c.Unfixed) && slices.Equal(e.invalid, c.Invalid) &&
			e.secureOnKey == c.SecureOnKey && e.uid == c.UID {
			return false
		}
		st.unclassify(e)
		st.countSecureOn(key.Namespace, e, -1)
	} else {
		e = &vmEntry{}
		st.vms[key] = e
	}
	// Both lists are sorted: release what is gone, then claim what is new.
	for _, mac := range e.macs {
		if _, found := slices.BinarySearchFunc(c.MACs, mac, compareMACs); !found {
			st.release(mac, key, e)
		}
	}
	for _, mac := range c.MACs {
		if _, found := slices.BinarySearchFunc(e.macs, mac, compareMACs); !found {
			st.claim(mac, key, e)
		}
	}
	if st.explicit() {
		st.mappedPresent += len(c.MACs) - len(e.macs)
	}
	e.macs, e.unfixed, e.invalid = c.MACs, c.Unfixed, c.Invalid
	e.secureOnKey, e.uid = c.SecureOnKey, c.UID
	st.classify(e)
	st.countSecureOn(key.Namespace, e, 1)
	return true
}

// countSecureOn adds d to the namespace's count if e names a SecureOn key.
func (st *state) countSecureOn(namespace string, e *vmEntry, d int) {
	if e.secureOnKey == "" {
		return
	}
	if n := st.secureOnNS[namespace] + d; n > 0 {
		st.secureOnNS[namespace] = n
	} else {
		delete(st.secureOnNS, namespace)
	}
}

func (st *state) remove(key types.NamespacedName, e *vmEntry) {
	for _, mac := range e.macs {
		st.release(mac, key, e)
	}
	if st.explicit() {
		st.mappedPresent -= len(e.macs)
	}
	st.unclassify(e)
	st.countSecureOn(key.Namespace, e, -1)
	delete(st.vms, key)
}

func (st *state) claim(mac wol.MAC, key types.NamespacedName, e *vmEntry) {
	owners := st.byMAC[mac].owners
	switch len(owners) {
	case 0:
		st.byMAC[mac] = macEntry{owners: []types.NamespacedName{key}}
		st.addUnique(e, 1)
		return
	case 1:
		st.conflicts++
		st.addUnique(st.vms[owners[0]], -1)
	}
	grown := make([]types.NamespacedName, len(owners), len(owners)+1)
	copy(grown, owners)
	st.byMAC[mac] = macEntry{owners: append(grown, key)}
}

func (st *state) release(mac wol.MAC, key types.NamespacedName, e *vmEntry) {
	owners := st.byMAC[mac].owners
	i := slices.Index(owners, key)
	if i < 0 {
		return
	}
	switch len(owners) {
	case 1:
		delete(st.byMAC, mac)
		st.addUnique(e, -1)
		return
	case 2:
		st.conflicts--
		remaining := owners[1-i]
		st.addUnique(st.vms[remaining], 1)
		st.byMAC[mac] = macEntry{owners: []types.NamespacedName{remaining}}
		return
	}
	st.byMAC[mac] = macEntry{owners: slices.Delete(slices.Clone(owners), i, i+1)}
}

func (st *state) addUnique(e *vmEntry, d int) {
	before := e.unique > 0
	e.unique += d
	if after := e.unique > 0; after != before {
		if after {
			st.managed++
		} else {
			st.managed--
		}
	}
}

func (st *state) classify(e *vmEntry) {
	switch {
	case len(e.macs) == 0:
		st.notWakeable++
	case len(e.unfixed)+len(e.invalid) > 0:
		st.partlyFixed++
	}
}

func (st *state) unclassify(e *vmEntry) {
	switch {
	case len(e.macs) == 0:
		st.notWakeable--
	case len(e.unfixed)+len(e.invalid) > 0:
		st.partlyFixed--
	}
}
