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
	"testing"

	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

// BenchmarkIndexEvent is the "index update per VM event" figure of
// `make bench` (docs/performance.md): the cost of applying one VirtualMachine
// event to an index of 10,000 VMs, incrementally (Upsert, what the Watcher
// does) and, as the baseline, by rebuilding the whole index from the
// 10,000 VMs (what a naive implementation does on every event).
//
// The events rotate through the three kinds a fleet produces: a status-only
// update (nothing the index uses changed), a label change, and a MAC change;
// each op is one event. Reported: ns/event. Run with -cpu 1.
func BenchmarkIndexEvent(b *testing.B) {
	fleet := benchFleet()
	relabelled := benchFleet()
	moved := benchFleet()
	for i := range benchVMs {
		relabelled[i].Labels["tier"] = fmt.Sprint((i + 1) % 3)
		moved[i].Spec.Template.Spec.Domain.Devices.Interfaces[0].MacAddress = benchMAC(benchVMs + i).String()
	}
	// event i: which VM changes and its new version.
	event := func(i int) (int, *kubevirtv1.VirtualMachine) {
		n := (i / 3) % benchVMs
		switch i % 6 { // every kind, then back to the original
		case 0, 3:
			return n, fleet[n] // status-only: the same object again
		case 1:
			return n, relabelled[n]
		case 4:
			return n, moved[n]
		default:
			return n, fleet[n]
		}
	}

	b.Run("incremental", func(b *testing.B) {
		idx := benchIndex(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			_, vm := event(i)
			idx.Upsert(vm)
		}
		b.StopTimer()
		if got := idx.Snapshot(0).ManagedVMs; got != benchVMs {
			b.Fatalf("index holds %d VMs, want %d", got, benchVMs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})

	b.Run("rebuild", func(b *testing.B) {
		scope := mustScope(allSpec())
		current := append([]*kubevirtv1.VirtualMachine(nil), fleet...)
		var idx *vmindex.Index
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			n, vm := event(i)
			current[n] = vm
			idx = vmindex.Build(scope, func(yield func(*kubevirtv1.VirtualMachine) bool) {
				for _, v := range current {
					if !yield(v) {
						return
					}
				}
			})
		}
		b.StopTimer()
		if got := idx.Snapshot(0).ManagedVMs; got != benchVMs {
			b.Fatalf("index holds %d VMs, want %d", got, benchVMs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})
}
