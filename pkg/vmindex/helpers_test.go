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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// iface is an interface name and its macAddress ("" for none).
type iface = vmfixture.NIC

// newVM builds a VirtualMachine with the given labels and interfaces.
func newVM(ns, name string, labels map[string]string, ifaces ...iface) *kubevirtv1.VirtualMachine {
	return vmfixture.New(ns, name, vmfixture.Labels(labels), vmfixture.NICs(ifaces...))
}

func mustMAC(s string) wol.MAC {
	m, err := wol.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

func mustScope(spec wolv1beta1.WolConfigSpec) *vmindex.Scope {
	s, err := vmindex.ScopeFromSpec(spec)
	if err != nil {
		panic(err)
	}
	return s
}

func allSpec(namespaces ...string) wolv1beta1.WolConfigSpec {
	return wolv1beta1.WolConfigSpec{DiscoveryMode: wolv1beta1.DiscoveryModeAll, NamespaceSelectors: namespaces}
}

func labelSpec(sel map[string]string, namespaces ...string) wolv1beta1.WolConfigSpec {
	return wolv1beta1.WolConfigSpec{
		DiscoveryMode:      wolv1beta1.DiscoveryModeLabelSelector,
		NamespaceSelectors: namespaces,
		VMSelector:         &metav1.LabelSelector{MatchLabels: sel},
	}
}

func explicitSpec(m ...wolv1beta1.ExplicitMapping) wolv1beta1.WolConfigSpec {
	return wolv1beta1.WolConfigSpec{DiscoveryMode: wolv1beta1.DiscoveryModeExplicit, ExplicitMappings: m}
}

func mapping(mac, ns, name string) wolv1beta1.ExplicitMapping {
	return wolv1beta1.ExplicitMapping{MACAddress: mac, Namespace: ns, VMName: name}
}
