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
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/cache"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
)

// The Watcher lists and watches VirtualMachines; nothing else.
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines,verbs=list;watch

// Watcher keeps an [Index] up to date from the API server. It runs one
// client-go informer per namespace of the index's scope (a single
// cluster-wide one when the scope covers every namespace), applies every
// VirtualMachine event to the index incrementally, and rebuilds the index
// from its cache every Scope.Resync (the WolConfig's cacheTTL).
//
// The informers cache a compact record of each VirtualMachine (identity,
// labels, SecureOn key annotation, interface names and MAC addresses), so memory grows with the
// number of VirtualMachines and interfaces, not with the size of their
// specs.
//
// Why client-go informers and not a controller-runtime cache: the listener
// needs only this one kind, a per-namespace set of watches it can change at
// run time without restarting (a controller-runtime cache fixes its
// namespaces when it is built), and no manager.
type Watcher struct {
	client kvcorev1.VirtualMachinesGetter
	index  *Index
	log    logr.Logger

	mu      sync.Mutex
	ctx     context.Context // the Run context; nil before Run
	gen     uint64          // incremented by every scope change
	settled uint64          // the generation whose watches are all in place
	watches map[string]*nsWatch
	wg      sync.WaitGroup
	resync  chan struct{} // wakes the resync loop after a scope change
}

// nsWatch is the informer of one namespace ("" for every namespace).
type nsWatch struct {
	namespace string
	informer  cache.SharedIndexInformer
	// handler reports synced once the informer has listed and every event
	// of that list has been applied to the index.
	handler cache.ResourceEventHandlerRegistration
	cancel  context.CancelFunc
	// active is false while the watch is being retired: its events are no
	// longer applied to the index.
	active atomic.Bool
}

// NewWatcher returns a Watcher that feeds index with the VirtualMachines
// client can list, under index's scope. client is the typed kubevirt.io/v1
// client (clientset.KubevirtV1(), or kvcorev1.NewForConfigAndClient, which
// links far less into a binary). Call Run to start it.
func NewWatcher(client kvcorev1.VirtualMachinesGetter, index *Index, log logr.Logger) *Watcher {
	return &Watcher{
		client:  client,
		index:   index,
		log:     log,
		watches: make(map[string]*nsWatch),
		resync:  make(chan struct{}, 1),
	}
}

// Run starts the watches for the index's current scope and blocks until ctx
// is done, then stops them. It may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.ctx != nil {
		w.mu.Unlock()
		return errors.New("vmindex: Watcher.Run called twice")
	}
	w.ctx = ctx
	w.reconcile(w.index.Scope())
	w.mu.Unlock()

	w.resyncLoop(ctx)

	w.mu.Lock()
	for ns, ws := range w.watches {
		ws.cancel()
		delete(w.watches, ns)
	}
	w.mu.Unlock()
	w.wg.Wait()
	return nil
}

// SetScope changes the scope at run time. The index is re-evaluated at once
// from the VirtualMachines already cached. When the set of namespaces
// changes, watches for new namespaces are started and those no longer
// needed are stopped once the new ones have synchronised (until then the old
// cache keeps answering for VirtualMachines still in scope), and the index
// is rebuilt again from the final set of caches.
func (w *Watcher) SetScope(scope *Scope) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.ctx.Err() != nil {
		// Not running (yet, or any more): Run starts from this scope.
		w.index.Reset(scope, nil)
		return
	}
	w.reconcile(scope)
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// HasSynced reports whether every watch the current scope needs has listed
// its VirtualMachines and the index reflects them. A listener is ready only
// once it is true.
func (w *Watcher) HasSynced() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.settled != w.gen {
		return false
	}
	for _, ws := range w.watches {
		if ws.active.Load() && !ws.handler.HasSynced() {
			return false
		}
	}
	return true
}

// WaitForSync blocks until HasSynced or ctx is done, and reports which.
func (w *Watcher) WaitForSync(ctx context.Context) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !w.HasSynced() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// Namespaces returns the namespaces currently watched ("" for all),
// including watches being retired.
func (w *Watcher) Namespaces() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.watches))
	for ns := range w.watches {
		out = append(out, ns)
	}
	return out
}

// resyncLoop rebuilds the index from the caches every Scope.Resync, until
// ctx is done.
func (w *Watcher) resyncLoop(ctx context.Context) {
	var timer *time.Timer
	var tick <-chan time.Time
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		tick = nil
		if d := w.index.Scope().Resync(); d > 0 {
			timer = time.NewTimer(d)
			tick = timer.C
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-w.resync:
			arm()
		case <-tick:
			w.Resync()
			arm()
		}
	}
}

// Resync rebuilds the index from the watch caches under the current scope,
// if the watches are in place. The Watcher calls it every Scope.Resync; it
// repairs nothing in a correct index, and bounds how long any divergence
// could last.
func (w *Watcher) Resync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.settled != w.gen {
		return
	}
	scope := w.index.Scope()
	w.index.reset(scope, w.cached(scope, true))
	w.log.V(1).Info("VM index resynchronised")
}
