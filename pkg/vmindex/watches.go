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
	"context"
	"iter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// reconcile makes the watches match scope. Called with w.mu held.
func (w *Watcher) reconcile(scope *Scope) {
	w.gen++
	gen := w.gen
	desired := map[string]bool{}
	if scope.AllNamespaces() {
		desired[metav1.NamespaceAll] = true
	} else {
		for _, ns := range scope.Namespaces() {
			desired[ns] = true
		}
	}
	rebuild := false
	for ns, ws := range w.watches {
		switch {
		case !desired[ns]:
			ws.active.Store(false)
			rebuild = true
		case !ws.active.Load():
			// Re-activated before it was stopped: its events were ignored.
			ws.active.Store(true)
			rebuild = true
		}
	}
	for ns := range desired {
		if _, ok := w.watches[ns]; !ok {
			w.watches[ns] = w.start(ns)
		}
	}
	// Re-evaluate at once from every cache (including retiring ones, so
	// that VirtualMachines still in scope keep being found).
	w.index.reset(scope, w.cached(scope, false))
	w.log.Info("VM index scope set", "mode", scope.Mode(), "namespaces", scope.Namespaces(),
		"allNamespaces", scope.AllNamespaces(), "resync", scope.Resync())

	syncs := make([]cache.InformerSynced, 0, len(desired))
	for ns := range desired {
		syncs = append(syncs, w.watches[ns].handler.HasSynced)
	}
	ctx := w.ctx
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		err := wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) {
			for _, synced := range syncs {
				if !synced() {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return // stopped
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if gen != w.gen {
			return // superseded by a newer scope
		}
		if rebuild {
			w.index.reset(scope, w.cached(scope, true))
		}
		for ns, ws := range w.watches {
			if !ws.active.Load() {
				ws.cancel()
				delete(w.watches, ns)
			}
		}
		w.settled = gen
		snap := w.index.Snapshot(0)
		w.log.Info("VM index synchronised", "managedVMs", snap.ManagedVMs, "conflicts", snap.ConflictCount,
			"notWakeable", snap.NotWakeableCount, "missingMappings", snap.MissingMappingCount)
	}()
}

// start starts the informer of one namespace. Called with w.mu held.
func (w *Watcher) start(namespace string) *nsWatch {
	vms := w.client.VirtualMachines(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return vms.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return vms.Watch(ctx, opts)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, &kubevirtv1.VirtualMachine{}, cache.SharedIndexInformerOptions{
		ObjectDescription: "kubevirt.io/v1 VirtualMachine",
	})
	ws := &nsWatch{namespace: namespace, informer: inf}
	ws.active.Store(true)
	// Neither call can fail on an informer that has not started.
	_ = inf.SetTransform(compactVM)
	ws.handler, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if vm, ok := obj.(*cachedVM); ok && ws.active.Load() {
				w.index.upsert(vm.key(), vm.evaluate)
			}
		},
		UpdateFunc: func(_, obj any) {
			if vm, ok := obj.(*cachedVM); ok && ws.active.Load() {
				w.index.upsert(vm.key(), vm.evaluate)
			}
		},
		DeleteFunc: func(obj any) {
			if !ws.active.Load() {
				return
			}
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if vm, ok := obj.(*cachedVM); ok {
				w.index.Delete(vm.key())
			}
		},
	})
	ctx, cancel := context.WithCancel(w.ctx)
	ws.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		inf.RunWithContext(ctx)
	}()
	w.log.V(1).Info("VM watch started", "namespace", namespace)
	return ws
}

// cached evaluates under scope the VirtualMachines in the caches of the
// watches (only the active ones if activeOnly). Called with w.mu held.
func (w *Watcher) cached(scope *Scope, activeOnly bool) iter.Seq2[types.NamespacedName, Contribution] {
	stores := make([]cache.Store, 0, len(w.watches))
	for _, ws := range w.watches {
		if !activeOnly || ws.active.Load() {
			stores = append(stores, ws.informer.GetStore())
		}
	}
	return func(yield func(types.NamespacedName, Contribution) bool) {
		for _, s := range stores {
			for _, obj := range s.List() {
				if vm, ok := obj.(*cachedVM); ok && !yield(vm.key(), vm.evaluate(scope)) {
					return
				}
			}
		}
	}
}
