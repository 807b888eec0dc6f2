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
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

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
