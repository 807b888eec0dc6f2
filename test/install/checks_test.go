//go:build install

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

package install

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

// listenerName is the listener Deployment the operator makes for a
// WolConfig (internal/controller.ListenerName).
func listenerName(wc string) string { return "wol-listener-" + wc }

// createWolConfig creates namespace vmNS with a VirtualMachine that has a
// fixed MAC address, and a WolConfig named name for that namespace.
func createWolConfig(t *testing.T, name, vmNS string) {
	t.Helper()
	ctx := t.Context()
	if err := stk.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vmNS}}); err != nil {
		t.Fatal(err)
	}
	if err := stk.Client.Create(ctx, vmfixture.New(vmNS, "vm-"+name, vmfixture.MACs("52:54:00:aa:bb:01"))); err != nil {
		t.Fatal(err)
	}
	wc := &wolv1beta1.WolConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       wolv1beta1.WolConfigSpec{NamespaceSelectors: []string{vmNS}, WolPorts: []int32{9}},
	}
	if err := stk.Client.Create(ctx, wc); err != nil {
		t.Fatal(err)
	}
}

// listenerReady waits until the WolConfig's listener Deployment in the
// operator's namespace runs image and is Available, and the WolConfig reports Ready
// with one managed VM; it returns the Deployment.
func listenerReady(t *testing.T, wc, image string) *appsv1.Deployment {
	namespace := stack.OperatorNamespace
	t.Helper()
	d := &appsv1.Deployment{}
	eventually(t, "the listener Deployment "+listenerName(wc)+" available with "+image, func(ctx context.Context) (bool, string, error) {
		if err := stk.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: listenerName(wc)}, d); err != nil {
			return false, err.Error(), client.IgnoreNotFound(err)
		}
		img := d.Spec.Template.Spec.Containers[0].Image
		return img == image && d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas &&
				d.Status.AvailableReplicas >= 1,
			fmt.Sprintf("image %s, %d updated, %d available of %d", img, d.Status.UpdatedReplicas, d.Status.AvailableReplicas, d.Status.Replicas), nil
	})
	eventually(t, "WolConfig "+wc+" Ready", func(ctx context.Context) (bool, string, error) {
		w := &wolv1beta1.WolConfig{}
		if err := stk.Client.Get(ctx, client.ObjectKey{Name: wc}, w); err != nil {
			return false, err.Error(), err
		}
		c := meta.FindStatusCondition(w.Status.Conditions, wolv1beta1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == w.Generation && w.Status.ManagedVMs == 1,
			fmt.Sprintf("Ready %+v, %d managed VMs", c, w.Status.ManagedVMs), nil
	})
	return d
}

// snapshot is what must survive an upgrade untouched: the WolConfig's
// generation and spec, its VM's generation, spec, labels and annotations.
type snapshot struct {
	WCGeneration, VMGeneration int64
	WCSpec                     wolv1beta1.WolConfigSpec
	VMSpec                     kubevirtv1.VirtualMachineSpec
	VMLabels, VMAnnotations    map[string]string
}

func takeSnapshot(t *testing.T, wc, vmNS string) snapshot {
	t.Helper()
	w := &wolv1beta1.WolConfig{}
	vm := &kubevirtv1.VirtualMachine{}
	if err := stk.Client.Get(t.Context(), client.ObjectKey{Name: wc}, w); err != nil {
		t.Fatal(err)
	}
	if err := stk.Client.Get(t.Context(), client.ObjectKey{Namespace: vmNS, Name: "vm-" + wc}, vm); err != nil {
		t.Fatal(err)
	}
	return snapshot{w.Generation, vm.Generation, w.Spec, vm.Spec, vm.Labels, vm.Annotations}
}

// listenerWatch records, while it runs, the most listener Deployments of a
// WolConfig seen at once (in any namespace) and the most of their pods not
// being deleted.
type listenerWatch struct {
	mu                      sync.Mutex
	maxDeployments, maxPods int
	errs                    []error
	stop                    context.CancelFunc
	done                    chan struct{}
}

func watchListeners(t *testing.T, wc string) *listenerWatch {
	ctx, cancel := context.WithCancel(t.Context())
	w := &listenerWatch{stop: cancel, done: make(chan struct{})}
	sel := client.MatchingLabels{"app.kubernetes.io/component": "listener", "app.kubernetes.io/instance": wc}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			ds, pods := &appsv1.DeploymentList{}, &corev1.PodList{}
			err := stk.Client.List(ctx, ds, sel)
			if err == nil {
				err = stk.Client.List(ctx, pods, sel)
			}
			w.mu.Lock()
			if err != nil && ctx.Err() == nil {
				w.errs = append(w.errs, err)
			}
			live := 0
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					live++
				}
			}
			w.maxDeployments, w.maxPods = max(w.maxDeployments, len(ds.Items)), max(w.maxPods, live)
			w.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return w
}

// result stops the watch and returns what it saw.
func (w *listenerWatch) result() (deployments, pods int, errs []error) {
	w.stop()
	<-w.done
	return w.maxDeployments, w.maxPods, w.errs
}

// gone waits until obj no longer exists.
func gone(t *testing.T, what string, obj client.Object) {
	t.Helper()
	eventually(t, what+" deleted", func(ctx context.Context) (bool, string, error) {
		err := stk.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, fmt.Sprintf("still there (%v)", err), nil
	})
}

// upgradeCheck holds what an upgrade must preserve.
type upgradeCheck struct {
	wc, vmNS    string
	before      snapshot
	listenerUID types.UID
	watch       *listenerWatch
}

// beginUpgrade records the WolConfig wc, its VM in vmNS and its listener
// Deployment, and starts watching the listeners, before an upgrade.
func beginUpgrade(t *testing.T, wc, vmNS string) *upgradeCheck {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := stk.Client.Get(t.Context(), client.ObjectKey{Namespace: stack.OperatorNamespace, Name: listenerName(wc)}, d); err != nil {
		t.Fatal(err)
	}
	return &upgradeCheck{wc: wc, vmNS: vmNS, before: takeSnapshot(t, wc, vmNS), listenerUID: d.UID, watch: watchListeners(t, wc)}
}

// finish waits for the operator's Deployment to run image, restarts the
// operator's process from its new pod (the old pod is gone, so is its
// process), and checks that the listener Deployment rolled to image (the
// same Deployment, never two, never more live pods than replicas) and that
// the WolConfig and its VM are untouched.
func (u *upgradeCheck) finish(t *testing.T, image string) {
	t.Helper()
	operatorRolledTo(t, image)
	stk.Operator.Stop()
	if err := stk.StartOperator(t.Context(), "--discovery-interval=2s"); err != nil {
		t.Fatal(err)
	}
	rolled := listenerReady(t, u.wc, image)
	if rolled.UID != u.listenerUID {
		t.Errorf("the listener Deployment was recreated (UID %s → %s), want it rolled", u.listenerUID, rolled.UID)
	}
	deployments, pods, errs := u.watch.result()
	if len(errs) > 0 {
		t.Fatalf("watching the listeners: %v", errs)
	}
	if deployments != 1 || pods > int(*rolled.Spec.Replicas) {
		t.Errorf("during the upgrade: up to %d listener Deployments and %d live listener pods, want 1 and at most %d",
			deployments, pods, *rolled.Spec.Replicas)
	}
	if after := takeSnapshot(t, u.wc, u.vmNS); !equality.Semantic.DeepEqual(u.before, after) {
		t.Errorf("the upgrade changed the WolConfig or its VM:\nbefore %+v\nafter  %+v", u.before, after)
	}
}

// operatorRolledTo waits until the operator's Deployment runs image, rolled
// out, with one Running pod left, of that image.
func operatorRolledTo(t *testing.T, image string) {
	t.Helper()
	eventually(t, "the operator Deployment rolled out with "+image, func(ctx context.Context) (bool, string, error) {
		d := &appsv1.Deployment{}
		if err := stk.Client.Get(ctx, client.ObjectKey{Namespace: stack.OperatorNamespace, Name: "kubevirt-wol-controller-manager"}, d); err != nil {
			return false, err.Error(), nil
		}
		pods, err := stk.Pods(ctx, stack.OperatorNamespace, stack.OperatorSelector)
		if err != nil {
			return false, err.Error(), err
		}
		var images []string
		for _, p := range pods {
			images = append(images, p.Spec.Containers[0].Image)
		}
		return d.Spec.Template.Spec.Containers[0].Image == image && d.Status.AvailableReplicas == 1 &&
				len(pods) == 1 && images[0] == image,
			fmt.Sprintf("Deployment image %s, %d available, Running pods' images %v", d.Spec.Template.Spec.Containers[0].Image, d.Status.AvailableReplicas, images), nil
	})
}

func objectMeta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}

// crdObject is the WolConfig CRD, to read or wait for with stk.Client.
func crdObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apiextensions.k8s.io/v1")
	u.SetKind("CustomResourceDefinition")
	u.SetName("wolconfigs.wol.pillon.org")
	return u
}
