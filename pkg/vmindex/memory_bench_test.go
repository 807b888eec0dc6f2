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
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	apiruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

const (
	fleetSize       = 10_000
	fleetNamespaces = 10
)

// realisticVM is a VirtualMachine shaped like a real one (vmfixture.Realistic:
// two disks, a cloud-init user-data script, resources), with two interfaces
// (one with a fixed MAC), labels and annotations — about 3 KiB of JSON,
// most of which the index does not need.
func realisticVM(i int) *kubevirtv1.VirtualMachine {
	return vmfixture.New(fmt.Sprintf("fleet-%d", i%fleetNamespaces), fmt.Sprintf("vm-%05d", i),
		vmfixture.Labels(map[string]string{
			"app.kubernetes.io/name": "guest", "app.kubernetes.io/part-of": "fleet",
			"tier": fmt.Sprint(i % 3), "wol": "on",
		}),
		vmfixture.NICs(iface{Name: "default", MAC: benchMAC(i).String()}, iface{Name: "storage"}),
		vmfixture.Annotations(map[string]string{"kubevirt.io/latest-observed": "2026-11-29T00:00:00Z"}),
		vmfixture.Realistic(30))
}

// createFleet creates fleetSize realistic VMs in fleetNamespaces namespaces.
func createFleet(b *testing.B, ctx context.Context, kv kubevirt.Interface, cs kubernetes.Interface) {
	b.Helper()
	for n := range fleetNamespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fleet-%d", n)}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range 8 {
		wg.Go(func() {
			for i := range work {
				vm := realisticVM(i)
				if _, err := kv.KubevirtV1().VirtualMachines(vm.Namespace).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	for i := range fleetSize {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.Logf("created %d VMs in %s", fleetSize, time.Since(start).Round(time.Millisecond))
}

func heapMiB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkWatcher10k measures the listener's VM index over 10,000
// VirtualMachines on a real API server: the time to the first complete
// index, and the heap it keeps (informer caches of stripped VMs plus the
// index), after garbage collection. For comparison it also reports the heap
// of a plain informer that caches the full objects. It starts its own
// kube-apiserver and creates the fleet first (tens of seconds), so it runs
// only when selected with -bench; use -benchtime=1x.
func BenchmarkWatcher10k(b *testing.B) {
	env, cfg, err := testenv.Start(testenv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx := context.Background()
	kv, err := kubevirt.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	createFleet(b, ctx, kv, cs)

	namespaces := make([]string, fleetNamespaces)
	for n := range namespaces {
		namespaces[n] = fmt.Sprintf("fleet-%d", n)
	}
	for _, bc := range []struct {
		name       string
		namespaces []string
	}{{"all-namespaces", nil}, {"10-namespaces", namespaces}} {
		b.Run(bc.name, func(b *testing.B) {
			var heap, synced float64
			for b.Loop() {
				base := heapMiB()
				idx, err := vmindex.NewIndex(mustScope(allSpec(bc.namespaces...)), prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				w := vmindex.NewWatcher(kv.KubevirtV1(), idx, logr.Discard())
				wctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				start := time.Now()
				go func() { defer close(done); _ = w.Run(wctx) }()
				if !w.WaitForSync(ctx) {
					b.Fatal("no sync")
				}
				synced = time.Since(start).Seconds()
				if got := idx.Snapshot(0).ManagedVMs; got != fleetSize {
					b.Fatalf("managed %d VMs, want %d", got, fleetSize)
				}
				heap = heapMiB() - base
				runtime.KeepAlive(w)
				cancel()
				<-done
			}
			b.ReportMetric(heap, "heap-MiB")
			b.ReportMetric(synced, "sync-s")
		})
	}

	b.Run("full-objects-informer", func(b *testing.B) {
		var heap float64
		for b.Loop() {
			base := heapMiB()
			vms := kv.KubevirtV1().VirtualMachines("")
			inf := cache.NewSharedIndexInformer(&cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (apiruntime.Object, error) {
					return vms.List(ctx, o)
				},
				WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
					return vms.Watch(ctx, o)
				},
			}, &kubevirtv1.VirtualMachine{}, 0, cache.Indexers{})
			wctx, cancel := context.WithCancel(ctx)
			go inf.RunWithContext(wctx)
			if !cache.WaitForCacheSync(wctx.Done(), inf.HasSynced) {
				b.Fatal("no sync")
			}
			heap = heapMiB() - base
			if n := len(inf.GetStore().List()); n != fleetSize {
				b.Fatalf("%d VMs cached", n)
			}
			cancel()
		}
		b.ReportMetric(heap, "heap-MiB")
	})
}
