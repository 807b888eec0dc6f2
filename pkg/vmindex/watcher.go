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
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
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

	var syncs []cache.InformerSynced
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

// cachedVM is what the Watcher's informers keep of a VirtualMachine: its
// identity, labels, SecureOn key annotation and interfaces' names and MAC
// addresses — a few hundred
// bytes instead of the several KiB of a VirtualMachine (even a stripped one:
// its template alone is a 1 KB struct). It is a runtime.Object with object
// metadata, which is all an informer needs; its fields are named, not
// embedded, so that code generators do not mistake it for an API kind.
type cachedVM struct {
	meta   metav1.ObjectMeta
	ifaces []cachedInterface
}

type cachedInterface struct{ name, mac string }

var (
	_ runtime.Object            = (*cachedVM)(nil)
	_ metav1.ObjectMetaAccessor = (*cachedVM)(nil)
)

// GetObjectMeta implements metav1.ObjectMetaAccessor.
func (c *cachedVM) GetObjectMeta() metav1.Object { return &c.meta }

// GetObjectKind implements runtime.Object.
func (c *cachedVM) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object.
func (c *cachedVM) DeepCopyObject() runtime.Object {
	out := &cachedVM{ifaces: slices.Clone(c.ifaces)}
	c.meta.DeepCopyInto(&out.meta)
	return out
}

func (c *cachedVM) key() types.NamespacedName {
	return types.NamespacedName{Namespace: c.meta.Namespace, Name: c.meta.Name}
}

func (c *cachedVM) evaluate(s *Scope) Contribution {
	return s.evaluate(vmFacts{namespace: c.meta.Namespace, name: c.meta.Name, uid: c.meta.UID, labels: c.meta.Labels,
		secureOnKey: c.meta.Annotations[wolv1beta1.SecureOnKeyAnnotation], interfaces: len(c.ifaces),
		iface: func(i int) (string, string) { return c.ifaces[i].name, c.ifaces[i].mac }})
}

// compactVM is the informers' transform: a VirtualMachine becomes a cachedVM
// before it is stored. Other objects (tombstones) pass unchanged.
func compactVM(obj any) (any, error) {
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok {
		return obj, nil
	}
	out := &cachedVM{meta: metav1.ObjectMeta{
		Name:            vm.Name,
		Namespace:       vm.Namespace,
		UID:             vm.UID,
		ResourceVersion: vm.ResourceVersion,
		Labels:          vm.Labels,
		Annotations:     secureOnAnnotation(vm.Annotations),
	}}
	if vm.Spec.Template != nil {
		in := vm.Spec.Template.Spec.Domain.Devices.Interfaces
		out.ifaces = make([]cachedInterface, len(in))
		for i := range in {
			out.ifaces[i] = cachedInterface{name: in[i].Name, mac: in[i].MacAddress}
		}
	}
	return out, nil
}

// secureOnAnnotation keeps, of a VirtualMachine's annotations, only the
// SecureOn key (nil when it has none).
func secureOnAnnotation(annotations map[string]string) map[string]string {
	if key, ok := annotations[wolv1beta1.SecureOnKeyAnnotation]; ok {
		return map[string]string{wolv1beta1.SecureOnKeyAnnotation: key}
	}
	return nil
}

// StripVM is an informer transform (cache.TransformFunc) that keeps only
// what the index reads of a VirtualMachine: name, namespace, UID,
// resourceVersion, labels, the wol.pillon.org/secureon-key annotation (no
// other), deletion timestamp, run strategy (runStrategy and the deprecated
// running), and each interface's name and macAddress. Other
// objects (such as deletion tombstones) are returned unchanged. It is meant
// for caches that must keep the VirtualMachine type, such as the operator's
// controller-runtime cache; the Watcher caches a smaller record of its own.
func StripVM(obj any) (any, error) {
	vm, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok {
		return obj, nil
	}
	out := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Name:              vm.Name,
			Namespace:         vm.Namespace,
			UID:               vm.UID,
			ResourceVersion:   vm.ResourceVersion,
			Labels:            vm.Labels,
			Annotations:       secureOnAnnotation(vm.Annotations),
			DeletionTimestamp: vm.DeletionTimestamp,
		},
		Spec: kubevirtv1.VirtualMachineSpec{
			Running:     vm.Spec.Running,
			RunStrategy: vm.Spec.RunStrategy,
		},
	}
	if vm.Spec.Template != nil {
		in := vm.Spec.Template.Spec.Domain.Devices.Interfaces
		ifaces := make([]kubevirtv1.Interface, len(in))
		for i := range in {
			ifaces[i] = kubevirtv1.Interface{Name: in[i].Name, MacAddress: in[i].MacAddress}
		}
		out.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
		out.Spec.Template.Spec.Domain.Devices.Interfaces = ifaces
	}
	return out, nil
}
