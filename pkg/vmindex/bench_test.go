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
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const benchVMs = 10_000

func benchMAC(i int) wol.MAC {
	return wol.MAC{0x52, 0x54, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
}

// benchFleet returns benchVMs VMs in 10 namespaces, each with one fixed
// MAC, a second interface without one on every tenth, and a few labels.
func benchFleet() []*kubevirtv1.VirtualMachine {
	vms := make([]*kubevirtv1.VirtualMachine, benchVMs)
	for i := range vms {
		ifs := []iface{{Name: "default", MAC: benchMAC(i).String()}}
		if i%10 == 0 {
			ifs = append(ifs, iface{Name: "extra", MAC: ""})
		}
		vms[i] = newVM(fmt.Sprintf("ns-%d", i%10), fmt.Sprintf("vm-%05d", i),
			map[string]string{"app": "bench", "tier": fmt.Sprint(i % 3), "wol": "on"}, ifs...)
	}
	return vms
}

func benchIndex(b *testing.B) *vmindex.Index {
	b.Helper()
	idx, err := vmindex.NewIndex(mustScope(allSpec()), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	for _, vm := range benchFleet() {
		idx.Upsert(vm)
	}
	return idx
}

// BenchmarkLookup: one lookup in an index of 10,000 VMs (hits and misses).
func BenchmarkLookup(b *testing.B) {
	idx := benchIndex(b)
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := idx.Lookup(benchMAC(i % benchVMs)); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		miss := wol.MAC{0x02, 0, 0, 0, 0, 1}
		for b.Loop() {
			if _, ok := idx.Lookup(miss); ok {
				b.Fatal("hit")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				idx.Lookup(benchMAC(i % benchVMs))
				i++
			}
		})
	})
}

// BenchmarkUpsert: the cost of one VM event on an index of 10,000 VMs.
func BenchmarkUpsert(b *testing.B) {
	idx := benchIndex(b)
	fleet := benchFleet()
	// A changed VM: its MAC moves to a fresh address and back.
	moved := benchFleet()
	for i, vm := range moved {
		vm.Spec.Template.Spec.Domain.Devices.Interfaces[0].MacAddress = benchMAC(benchVMs + i).String()
	}
	b.Run("unchanged", func(b *testing.B) { // e.g. a status-only update
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			idx.Upsert(fleet[i%benchVMs])
			i++
		}
	})
	b.Run("mac-changed", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				idx.Upsert(moved[(i/2)%benchVMs])
			} else {
				idx.Upsert(fleet[(i/2)%benchVMs])
			}
			i++
		}
	})
	b.Run("delete-add", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			vm := fleet[i%benchVMs]
			idx.Delete(nn(vm.Namespace, vm.Name))
			idx.Upsert(vm)
			i++
		}
	})
}

// BenchmarkBuild: a full rebuild (Reset or the operator's status pass) of
// 10,000 VMs, and the heap the index itself holds.
func BenchmarkBuild(b *testing.B) {
	fleet := benchFleet()
	scope := mustScope(allSpec())
	all := func(yield func(*kubevirtv1.VirtualMachine) bool) {
		for _, vm := range fleet {
			if !yield(vm) {
				return
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		vmindex.Build(scope, all)
	}
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	idx := vmindex.Build(scope, all)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-MiB")
	if idx.Snapshot(0).ManagedVMs != benchVMs {
		b.Fatal("wrong count")
	}
	runtime.KeepAlive(fleet)
}
