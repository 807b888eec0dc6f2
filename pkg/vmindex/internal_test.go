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
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// TestCompactVM checks that the Watcher's cached record evaluates exactly
// like the VirtualMachine it was made from, under every mode.
func TestCompactVM(t *testing.T) {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vm", UID: "u", ResourceVersion: "3", Labels: map[string]string{"wol": "on"},
			Annotations: map[string]string{"a": "b", wolv1beta1.SecureOnKeyAnnotation: "vm-key"}},
		Spec: kubevirtv1.VirtualMachineSpec{Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{}},
	}
	vm.Spec.Template.Spec.Domain.Devices.Interfaces = []kubevirtv1.Interface{
		{Name: "a", MacAddress: "52:54:00:00:00:01"}, {Name: "b"}, {Name: "c", MacAddress: "bad"},
	}
	obj, err := compactVM(vm)
	if err != nil {
		t.Fatal(err)
	}
	c := obj.(*cachedVM)
	if !reflect.DeepEqual(c.meta.Annotations, map[string]string{wolv1beta1.SecureOnKeyAnnotation: "vm-key"}) || c.meta.UID != "u" || c.meta.ResourceVersion != "3" || len(c.ifaces) != 3 {
		t.Fatalf("compact record %+v", c)
	}
	if cp := c.DeepCopyObject().(*cachedVM); !reflect.DeepEqual(cp, c) || &cp.ifaces[0] == &c.ifaces[0] {
		t.Fatal("DeepCopyObject")
	}
	for _, spec := range []wolv1beta1.WolConfigSpec{
		{},
		{NamespaceSelectors: []string{"other"}},
		{DiscoveryMode: wolv1beta1.DiscoveryModeLabelSelector, VMSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"wol": "on"}}},
		{DiscoveryMode: wolv1beta1.DiscoveryModeExplicit, ExplicitMappings: []wolv1beta1.ExplicitMapping{{MACAddress: "52:54:00:00:00:09", Namespace: "ns", VMName: "vm"}}},
	} {
		s, err := ScopeFromSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.evaluate(s), s.Evaluate(vm); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: compact %+v, full %+v", spec, got, want)
		}
	}
	if key, err := cache.MetaNamespaceKeyFunc(c); err != nil || key != "ns/vm" {
		t.Fatalf("informer key %q %v", key, err)
	}
	if o, _ := compactVM("tombstone"); o != "tombstone" {
		t.Fatal("non-VM objects must pass through")
	}
}
