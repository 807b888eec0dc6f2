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

package vmindex_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func TestScopeFromSpec(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		s := mustScope(wolv1beta1.WolConfigSpec{})
		if s.Mode() != wolv1beta1.DiscoveryModeAll || !s.AllNamespaces() || s.Namespaces() != nil || s.Resync() != vmindex.DefaultResync {
			t.Fatalf("defaults: mode %s all %v ns %v resync %v", s.Mode(), s.AllNamespaces(), s.Namespaces(), s.Resync())
		}
	})
	t.Run("cacheTTL", func(t *testing.T) {
		if got := mustScope(wolv1beta1.WolConfigSpec{CacheTTL: ptr.To[int32](0)}).Resync(); got != 0 {
			t.Fatalf("cacheTTL 0: resync %v", got)
		}
		if got := mustScope(wolv1beta1.WolConfigSpec{CacheTTL: ptr.To[int32](42)}).Resync(); got != 42*time.Second {
			t.Fatalf("cacheTTL 42: resync %v", got)
		}
	})
	t.Run("namespaces are sorted and deduplicated", func(t *testing.T) {
		s := mustScope(allSpec("b", "a", "b"))
		if !slices.Equal(s.Namespaces(), []string{"a", "b"}) || s.AllNamespaces() {
			t.Fatalf("namespaces %v", s.Namespaces())
		}
	})
	t.Run("explicit watches the mapped namespaces", func(t *testing.T) {
		s := mustScope(explicitSpec(mapping("52:54:00:00:00:02", "y", "b"), mapping("52-54-00-00-00-01", "x", "a")))
		if !slices.Equal(s.Namespaces(), []string{"x", "y"}) || s.AllNamespaces() {
			t.Fatalf("namespaces %v", s.Namespaces())
		}
		want := []vmindex.Mapping{{MAC: mustMAC("52:54:00:00:00:01"), VM: nn("x", "a")}, {MAC: mustMAC("52:54:00:00:00:02"), VM: nn("y", "b")}}
		if !reflect.DeepEqual(s.Mappings(), want) {
			t.Fatalf("mappings %v", s.Mappings())
		}
	})
	t.Run("errors", func(t *testing.T) {
		bad := []wolv1beta1.WolConfigSpec{
			{DiscoveryMode: "Nope"},
			{DiscoveryMode: wolv1beta1.DiscoveryModeLabelSelector},
			labelSpec(map[string]string{"bad key!": "x"}),
			explicitSpec(mapping("zz:54:00:00:00:01", "x", "a")),
			explicitSpec(mapping("01:00:5e:00:00:01", "x", "a")),
			{CacheTTL: ptr.To[int32](-1)},
		}
		for i, spec := range bad {
			if _, err := vmindex.ScopeFromSpec(spec); err == nil {
				t.Errorf("spec %d: no error", i)
			}
		}
	})
}

func TestEvaluate(t *testing.T) {
	a1 := mustMAC("52:54:00:00:00:a1")
	a2 := mustMAC("52:54:00:00:00:a2")
	cases := []struct {
		name  string
		spec  wolv1beta1.WolConfigSpec
		vm    *kubevirtv1.VirtualMachine
		want  vmindex.Contribution
		wake  bool
		nowak bool
	}{
		{
			name: "all: fixed MACs are normalised, sorted and deduplicated",
			spec: allSpec(),
			vm:   newVM("ns", "vm", nil, iface{Name: "b", MAC: "52-54-00-00-00-A2"}, iface{Name: "a", MAC: "52:54:00:00:00:A1"}, iface{Name: "c", MAC: "5254.0000.00a1"}),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a1, a2}},
			wake: true,
		},
		{
			name:  "all: interfaces without a fixed MAC are reported",
			spec:  allSpec(),
			vm:    newVM("ns", "vm", nil, iface{Name: "default", MAC: ""}),
			want:  vmindex.Contribution{InScope: true, Unfixed: []string{"default"}},
			nowak: true,
		},
		{
			name:  "all: no interface at all is not wakeable",
			spec:  allSpec(),
			vm:    newVM("ns", "vm", nil),
			want:  vmindex.Contribution{InScope: true},
			nowak: true,
		},
		{
			name: "all: invalid and multicast MACs are reported, the rest is used",
			spec: allSpec(),
			vm:   newVM("ns", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}, iface{Name: "m", MAC: "01:00:5e:00:00:01"}, iface{Name: "x", MAC: "junk"}, iface{Name: "u", MAC: ""}),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a1}, Unfixed: []string{"u"}, Invalid: []string{"m", "x"}},
			wake: true,
		},
		{
			name: "all: other namespace is out of scope",
			spec: allSpec("a", "b"),
			vm:   newVM("c", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}),
		},
		{
			name: "label: matching VM",
			spec: labelSpec(map[string]string{"wol": "on"}, "ns"),
			vm:   newVM("ns", "vm", map[string]string{"wol": "on", "x": "y"}, iface{Name: "a", MAC: "52:54:00:00:00:a1"}),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a1}},
			wake: true,
		},
		{
			name: "label: not matching",
			spec: labelSpec(map[string]string{"wol": "on"}),
			vm:   newVM("ns", "vm", map[string]string{"wol": "off"}, iface{Name: "a", MAC: "52:54:00:00:00:a1"}),
		},
		{
			name: "explicit: the mapping wins over the spec MAC and needs no fixed MAC",
			spec: explicitSpec(mapping("52:54:00:00:00:A2", "ns", "vm")),
			vm:   newVM("ns", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}, iface{Name: "b", MAC: ""}),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a2}},
			wake: true,
		},
		{
			name: "all: the SecureOn key annotation and the UID are carried",
			spec: allSpec(),
			vm:   withSecureOn(newVM("ns", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}), "vm.pw"),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a1}, SecureOnKey: "vm.pw", UID: "uid-vm"},
			wake: true,
		},
		{
			name: "explicit: the SecureOn key annotation is carried",
			spec: explicitSpec(mapping("52:54:00:00:00:A2", "ns", "vm")),
			vm:   withSecureOn(newVM("ns", "vm", nil), "vm.pw"),
			want: vmindex.Contribution{InScope: true, MACs: []wol.MAC{a2}, SecureOnKey: "vm.pw", UID: "uid-vm"},
			wake: true,
		},
		{
			name: "all: out of scope carries nothing",
			spec: allSpec("other"),
			vm:   withSecureOn(newVM("ns", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}), "vm.pw"),
		},
		{
			name: "explicit: unmapped VM is out of scope",
			spec: explicitSpec(mapping("52:54:00:00:00:a2", "ns", "other")),
			vm:   newVM("ns", "vm", nil, iface{Name: "a", MAC: "52:54:00:00:00:a1"}),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustScope(tc.spec).Evaluate(tc.vm)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Evaluate = %+v, want %+v", got, tc.want)
			}
			if got.Wakeable() != tc.wake || got.NotWakeable() != tc.nowak {
				t.Fatalf("Wakeable %v NotWakeable %v, want %v %v", got.Wakeable(), got.NotWakeable(), tc.wake, tc.nowak)
			}
		})
	}
}

func TestParseMAC(t *testing.T) {
	for in, want := range map[string]bool{
		"52:54:00:ab:cd:ef": true, "52-54-00-AB-CD-EF": true, "5254.00ab.cdef": true,
		"": false, "52:54:00:ab:cd": false, "00:00:00:00:00:00": false, "ff:ff:ff:ff:ff:ff": false,
		"33:33:00:00:00:01": false, "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01": false,
	} {
		if _, ok := vmindex.ParseMAC(in); ok != want {
			t.Errorf("ParseMAC(%q) ok = %v, want %v", in, ok, want)
		}
	}
}

func TestIndexLifecycle(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	idx, err := vmindex.NewIndex(mustScope(allSpec()), reg)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2, m3 := mustMAC("52:54:00:00:00:01"), mustMAC("52:54:00:00:00:02"), mustMAC("52:54:00:00:00:03")
	gauge := func(name string) float64 { return metrictest.Value(reg, name) }
	expect := func(mac wol.MAC, vm types.NamespacedName, r vmindex.Resolution) {
		t.Helper()
		got, res := idx.Resolve(mac)
		if res != r || (r == vmindex.Found && got != vm) {
			t.Fatalf("Resolve(%s) = %v %s, want %v %s", mac, got, res, vm, r)
		}
		if _, ok := idx.Lookup(mac); ok != (r == vmindex.Found) {
			t.Fatalf("Lookup(%s) ok = %v", mac, ok)
		}
	}

	idx.Upsert(newVM("a", "one", nil, iface{Name: "n", MAC: m1.String()}))
	idx.Upsert(newVM("a", "two", nil, iface{Name: "n", MAC: m2.String()}, iface{Name: "p", MAC: ""}))
	idx.Upsert(newVM("b", "dyn", nil, iface{Name: "n", MAC: ""}))
	expect(m1, nn("a", "one"), vmindex.Found)
	expect(m2, nn("a", "two"), vmindex.Found)
	expect(m3, types.NamespacedName{}, vmindex.NotFound)
	snap := idx.Snapshot(-1)
	if snap.ManagedVMs != 2 || snap.MACs != 2 || snap.NotWakeableCount != 1 || snap.PartlyFixedCount != 1 || snap.InScopeVMs != 3 {
		t.Fatalf("snapshot %+v", snap)
	}
	if !reflect.DeepEqual(snap.NotWakeable, []vmindex.VMIssue{{VM: nn("b", "dyn"), Unfixed: []string{"n"}}}) {
		t.Fatalf("not wakeable %+v", snap.NotWakeable)
	}
	if gauge("wol_managed_vms") != 2 || gauge("wol_vms_without_fixed_mac") != 1 {
		t.Fatal("gauges not maintained")
	}

	// A conflict: a third VM takes m1. Neither is woken, both are listed.
	idx.Upsert(newVM("b", "clone", nil, iface{Name: "n", MAC: strings.ToUpper(m1.String())}))
	expect(m1, types.NamespacedName{}, vmindex.Conflict)
	snap = idx.Snapshot(-1)
	wantConflict := []vmindex.ConflictEntry{{MAC: m1, VMs: []types.NamespacedName{nn("a", "one"), nn("b", "clone")}}}
	if snap.ManagedVMs != 1 || snap.ConflictCount != 1 || !reflect.DeepEqual(snap.Conflicts, wantConflict) {
		t.Fatalf("conflict snapshot %+v", snap)
	}
	if gauge("wol_managed_vms") != 1 || gauge("wol_vm_mac_conflicts") != 1 {
		t.Fatal("conflict gauges not maintained")
	}

	// The clone changes its MAC: the conflict clears.
	idx.Upsert(newVM("b", "clone", nil, iface{Name: "n", MAC: m3.String()}))
	expect(m1, nn("a", "one"), vmindex.Found)
	expect(m3, nn("b", "clone"), vmindex.Found)
	if s := idx.Snapshot(0); s.ConflictCount != 0 || s.ManagedVMs != 3 || s.Conflicts != nil {
		t.Fatalf("after clearing: %+v", s)
	}

	// The dynamic VM gets a fixed MAC; then VMs are deleted.
	idx.Upsert(newVM("b", "dyn", nil, iface{Name: "n", MAC: "52:54:00:00:00:04"}))
	idx.Delete(nn("a", "one"))
	idx.Delete(nn("a", "nope"))
	expect(m1, types.NamespacedName{}, vmindex.NotFound)
	if s := idx.Snapshot(-1); s.ManagedVMs != 3 || s.NotWakeableCount != 0 || s.InScopeVMs != 3 {
		t.Fatalf("after delete: %+v", s)
	}

	// A scope change re-evaluates everything given.
	idx.Reset(mustScope(allSpec("b")), slices.Values([]*kubevirtv1.VirtualMachine{
		newVM("a", "two", nil, iface{Name: "n", MAC: m2.String()}),
		newVM("b", "clone", nil, iface{Name: "n", MAC: m3.String()}),
	}))
	expect(m2, types.NamespacedName{}, vmindex.NotFound)
	expect(m3, nn("b", "clone"), vmindex.Found)
	if gauge("wol_managed_vms") != 1 {
		t.Fatal("gauge after reset")
	}

	// A second index on the same registry reuses the collectors.
	if _, err := vmindex.NewIndex(mustScope(allSpec()), reg); err != nil {
		t.Fatalf("second index on the same registry: %v", err)
	}
}

func TestIndexExplicit(t *testing.T) {
	mA, mB := "52:54:00:00:00:0a", "52:54:00:00:00:0b"
	scope := mustScope(explicitSpec(mapping(mA, "x", "a"), mapping(mB, "y", "missing")))
	idx, err := vmindex.NewIndex(scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := idx.Snapshot(-1); s.MissingMappingCount != 2 {
		t.Fatalf("before any VM: %+v", s)
	}
	// The VM's own MAC is ignored: the mapping wins.
	idx.Upsert(newVM("x", "a", nil, iface{Name: "n", MAC: "52:54:00:00:00:99"}))
	idx.Upsert(newVM("x", "unmapped", nil, iface{Name: "n", MAC: "52:54:00:00:00:98"}))
	if vm, ok := idx.Lookup(mustMAC(mA)); !ok || vm != nn("x", "a") {
		t.Fatalf("mapped MAC: %v %v", vm, ok)
	}
	if _, ok := idx.Lookup(mustMAC("52:54:00:00:00:99")); ok {
		t.Fatal("spec MAC of a mapped VM must not wake it in Explicit mode")
	}
	if _, ok := idx.Lookup(mustMAC("52:54:00:00:00:98")); ok {
		t.Fatal("unmapped VM must not be wakeable in Explicit mode")
	}
	if vm, r := idx.Resolve(mustMAC(mB)); r != vmindex.MappedVMMissing || vm != nn("y", "missing") {
		t.Fatalf("missing VM: %v %s", vm, r)
	}
	s := idx.Snapshot(-1)
	want := []vmindex.Mapping{{MAC: mustMAC(mB), VM: nn("y", "missing")}}
	if s.ManagedVMs != 1 || s.MissingMappingCount != 1 || !reflect.DeepEqual(s.MissingMappings, want) {
		t.Fatalf("snapshot %+v", s)
	}
	idx.Delete(nn("x", "a"))
	if s := idx.Snapshot(0); s.MissingMappingCount != 2 || s.ManagedVMs != 0 {
		t.Fatalf("after delete %+v", s)
	}
}

func TestSnapshotLimit(t *testing.T) {
	idx := vmindex.Build(mustScope(allSpec()), func(yield func(*kubevirtv1.VirtualMachine) bool) {
		for i := range 10 {
			if !yield(newVM("ns", fmt.Sprintf("vm-%d", i), nil, iface{Name: "n", MAC: ""})) {
				return
			}
		}
	})
	s := idx.Snapshot(3)
	if s.NotWakeableCount != 10 || len(s.NotWakeable) != 3 || s.NotWakeable[0].VM.Name != "vm-0" {
		t.Fatalf("limit: %+v", s)
	}
	if s := idx.Snapshot(0); s.NotWakeable != nil {
		t.Fatal("limit 0 must give no list")
	}
}

// TestIncrementalMatchesRebuild applies random VM events to an index and
// checks after each that it equals an index built from scratch from the same
// VMs: the incremental bookkeeping (owners, conflicts, counters) never
// drifts.
func TestIncrementalMatchesRebuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	scopes := []*vmindex.Scope{
		mustScope(allSpec()),
		mustScope(labelSpec(map[string]string{"wol": "on"}, "a", "b")),
		mustScope(explicitSpec(mapping("52:54:00:00:00:01", "a", "vm-1"), mapping("52:54:00:00:00:02", "b", "vm-2"),
			mapping("52:54:00:00:00:03", "a", "vm-3"), mapping("52:54:00:00:00:04", "a", "vm-1"))),
	}
	for si, scope := range scopes {
		idx, err := vmindex.NewIndex(scope, nil)
		if err != nil {
			t.Fatal(err)
		}
		live := map[types.NamespacedName]*kubevirtv1.VirtualMachine{}
		for step := range 3000 {
			ns := []string{"a", "b", "c"}[rng.IntN(3)]
			name := fmt.Sprintf("vm-%d", rng.IntN(6))
			key := nn(ns, name)
			if rng.IntN(4) == 0 {
				idx.Delete(key)
				delete(live, key)
			} else {
				n := rng.IntN(3)
				ifs := make([]iface, 0, n)
				for i := range n {
					mac := ""
					if rng.IntN(4) != 0 {
						mac = fmt.Sprintf("52:54:00:00:00:%02x", 1+rng.IntN(5)) // few MACs: many conflicts
					}
					ifs = append(ifs, iface{Name: fmt.Sprintf("if%d", i), MAC: mac})
				}
				labels := map[string]string{"wol": []string{"on", "off"}[rng.IntN(2)]}
				vm := newVM(ns, name, labels, ifs...)
				if rng.IntN(3) == 0 {
					vm.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: fmt.Sprint("k", rng.IntN(2))}
				}
				idx.Upsert(vm)
				live[key] = vm
			}
			rebuilt := vmindex.Build(scope, maps.Values(live))
			want := rebuilt.Snapshot(-1)
			if got := idx.Snapshot(-1); !reflect.DeepEqual(got, want) {
				t.Fatalf("scope %d step %d: incremental\n%+v\n!= rebuilt\n%+v", si, step, got, want)
			}
			if got, want := idx.SecureOnNamespaces(), rebuilt.SecureOnNamespaces(); !slices.Equal(got, want) {
				t.Fatalf("scope %d step %d: SecureOn namespaces %v != rebuilt %v", si, step, got, want)
			}
			for i := 1; i <= 5; i++ {
				mac := mustMAC(fmt.Sprintf("52:54:00:00:00:%02x", i))
				got, gr := idx.Target(mac)
				want, wr := rebuilt.Target(mac)
				if gr != wr || (gr == vmindex.Found && got != want) {
					t.Fatalf("scope %d step %d: Target(%s) %+v %v != rebuilt %+v %v", si, step, mac, got, gr, want, wr)
				}
			}
		}
	}
}

// TestConcurrentLookup runs lookups while VMs churn (meant for -race).
func TestConcurrentLookup(t *testing.T) {
	idx, err := vmindex.NewIndex(mustScope(allSpec()), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	mac := mustMAC("52:54:00:00:00:01")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					idx.Lookup(mac)
					idx.Snapshot(1)
				}
			}
		})
	}
	for i := range 2000 {
		vm := newVM("ns", fmt.Sprintf("vm-%d", i%7), nil, iface{Name: "n", MAC: fmt.Sprintf("52:54:00:00:00:%02x", 1+i%3)})
		if i%5 == 0 {
			idx.Delete(nn(vm.Namespace, vm.Name))
		} else {
			idx.Upsert(vm)
		}
		if i%500 == 0 {
			idx.Reset(mustScope(allSpec()), nil)
		}
	}
	close(stop)
	wg.Wait()
}

func TestStripVM(t *testing.T) {
	vm := newVM("ns", "vm", map[string]string{"a": "b"}, iface{Name: "n", MAC: "52:54:00:00:00:01"})
	vm.UID = "uid"
	vm.ResourceVersion = "7"
	vm.Annotations = map[string]string{"big": strings.Repeat("x", 1000), wolv1beta1.SecureOnKeyAnnotation: "k"}
	vm.Spec.Template.Spec.Domain.Devices.Disks = []kubevirtv1.Disk{{Name: "root"}}
	vm.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
	out, err := vmindex.StripVM(vm)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*kubevirtv1.VirtualMachine)
	if !reflect.DeepEqual(s.Annotations, map[string]string{wolv1beta1.SecureOnKeyAnnotation: "k"}) || s.Spec.Template.Spec.Domain.Devices.Disks != nil || s.Spec.Template.Spec.Networks != nil || s.Status.PrintableStatus != "" {
		t.Fatalf("not stripped: %+v", s)
	}
	if s.UID != "uid" || s.ResourceVersion != "7" || s.Labels["a"] != "b" || *s.Spec.RunStrategy != kubevirtv1.RunStrategyHalted {
		t.Fatalf("lost identity: %+v", s.ObjectMeta)
	}
	scope := mustScope(allSpec())
	if !reflect.DeepEqual(scope.Evaluate(s), scope.Evaluate(vm)) {
		t.Fatal("stripping changed the contribution")
	}
	if o, _ := vmindex.StripVM("tombstone"); o != "tombstone" {
		t.Fatal("non-VM objects must pass through")
	}
}

// withSecureOn gives vm a SecureOn key annotation and a UID.
func withSecureOn(vm *kubevirtv1.VirtualMachine, key string) *kubevirtv1.VirtualMachine {
	vm.UID = types.UID("uid-" + vm.Name)
	vm.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: key, "other": "x"}
	return vm
}

// Target gives the wake what it needs of the VM; the namespaces needing the
// SecureOn Secret follow VMs in and out of scope incrementally.
func TestTargetAndSecureOnNamespaces(t *testing.T) {
	idx, err := vmindex.NewIndex(mustScope(allSpec("a", "b", "c")), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := newVM("a", "plain", nil, iface{Name: "n", MAC: "52:54:00:00:00:01"})
	plain.UID = "uid-plain"
	locked := withSecureOn(newVM("b", "locked", nil, iface{Name: "n", MAC: "52:54:00:00:00:02"}), "pw")
	other := withSecureOn(newVM("b", "other", nil, iface{Name: "n", MAC: "52:54:00:00:00:03"}), "pw2")
	outside := withSecureOn(newVM("z", "outside", nil, iface{Name: "n", MAC: "52:54:00:00:00:04"}), "pw")
	for _, vm := range []*kubevirtv1.VirtualMachine{plain, locked, other, outside} {
		idx.Upsert(vm)
	}
	if got := idx.SecureOnNamespaces(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("SecureOnNamespaces = %v, want [b]", got)
	}
	tgt, res := idx.Target(mustMAC("52:54:00:00:00:02"))
	if res != vmindex.Found || tgt != (vmindex.Target{VM: types.NamespacedName{Namespace: "b", Name: "locked"}, UID: "uid-locked", SecureOnKey: "pw"}) {
		t.Fatalf("Target = %+v, %v", tgt, res)
	}
	if tgt, res := idx.Target(mustMAC("52:54:00:00:00:01")); res != vmindex.Found || tgt.SecureOnKey != "" || tgt.UID != "uid-plain" {
		t.Fatalf("Target(plain) = %+v, %v", tgt, res)
	}
	if _, res := idx.Target(mustMAC("52:54:00:00:00:04")); res != vmindex.NotFound {
		t.Fatalf("Target(outside) = %v", res)
	}

	// Removing the annotation from one VM keeps the namespace for the other.
	locked.Annotations = nil
	idx.Upsert(locked)
	if got := idx.SecureOnNamespaces(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("SecureOnNamespaces = %v, want [b]", got)
	}
	if tgt, _ := idx.Target(mustMAC("52:54:00:00:00:02")); tgt.SecureOnKey != "" {
		t.Fatalf("annotation removal not applied: %+v", tgt)
	}
	idx.Delete(types.NamespacedName{Namespace: "b", Name: "other"})
	if got := idx.SecureOnNamespaces(); len(got) != 0 {
		t.Fatalf("SecureOnNamespaces = %v, want none", got)
	}
	plain.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: "p"}
	idx.Upsert(plain)
	idx.Reset(mustScope(allSpec("a")), slices.Values([]*kubevirtv1.VirtualMachine{plain, locked, other}))
	if got := idx.SecureOnNamespaces(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Reset: %v, want [a]", got)
	}
	// Conflicts are never a target.
	twin := withSecureOn(newVM("a", "twin", nil, iface{Name: "n", MAC: "52:54:00:00:00:01"}), "t")
	idx.Upsert(twin)
	if tgt, res := idx.Target(mustMAC("52:54:00:00:00:01")); res != vmindex.Conflict || tgt.SecureOnKey != "" {
		t.Fatalf("conflict: %+v %v", tgt, res)
	}
	mac := mustMAC("52:54:00:00:00:01")
	if n := testing.AllocsPerRun(100, func() { idx.Target(mac) }); n != 0 {
		t.Fatalf("Target allocates %v times", n)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	idx := vmindex.Build(mustScope(allSpec()), slices.Values([]*kubevirtv1.VirtualMachine{
		newVM("ns", "vm", nil, iface{Name: "n", MAC: "52:54:00:00:00:01"}),
		newVM("ns", "c1", nil, iface{Name: "n", MAC: "52:54:00:00:00:02"}),
		newVM("ns", "c2", nil, iface{Name: "n", MAC: "52:54:00:00:00:02"}),
	}))
	for _, mac := range []wol.MAC{mustMAC("52:54:00:00:00:01"), mustMAC("52:54:00:00:00:02"), mustMAC("52:54:00:00:00:03")} {
		if n := testing.AllocsPerRun(100, func() { idx.Resolve(mac) }); n != 0 {
			t.Fatalf("Resolve(%s) allocates %v times", mac, n)
		}
	}
}
