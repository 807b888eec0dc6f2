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

// Package vmfixture builds the VirtualMachines the tests, benchmarks and the
// demo create. A VirtualMachine it builds passes KubeVirt's real admission
// webhooks (memory requested, every interface on a network) and, when
// started, gives virt-controller everything it needs to create an instance
// and its launcher pod.
package vmfixture

import (
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// Option shapes a VirtualMachine.
type Option func(*kubevirtv1.VirtualMachine)

// New returns the VirtualMachine namespace/name: run strategy Halted, 64 MiB
// of guest memory, no interface with a fixed MAC address, shaped by opts.
func New(namespace, name string, opts ...Option) *kubevirtv1.VirtualMachine {
	halted := kubevirtv1.RunStrategyHalted
	guest := resource.MustParse("64Mi")
	vm := &kubevirtv1.VirtualMachine{
		TypeMeta:   metav1.TypeMeta{APIVersion: kubevirtv1.SchemeGroupVersion.String(), Kind: "VirtualMachine"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: &halted,
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{Spec: kubevirtv1.VirtualMachineInstanceSpec{
				Domain: kubevirtv1.DomainSpec{Memory: &kubevirtv1.Memory{Guest: &guest}},
			}},
		},
	}
	for _, o := range opts {
		o(vm)
	}
	return vm
}

// RunStrategy sets spec.runStrategy.
func RunStrategy(rs kubevirtv1.VirtualMachineRunStrategy) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		vm.Spec.Running = nil
		vm.Spec.RunStrategy = &rs
	}
}

// Running sets the deprecated spec.running instead of spec.runStrategy.
func Running(running bool) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		vm.Spec.RunStrategy = nil
		vm.Spec.Running = &running
	}
}

// MACs gives the VirtualMachine one interface per address, with that fixed
// MAC address, named default, net-1, net-2, … (see NICs).
func MACs(macs ...string) Option {
	nics := make([]NIC, len(macs))
	for i, mac := range macs {
		nics[i] = NIC{Name: fmt.Sprintf("net-%d", i), MAC: mac}
	}
	if len(nics) > 0 {
		nics[0].Name = "default"
	}
	return NICs(nics...)
}

// NIC is an interface of a VirtualMachine: its name and fixed MAC address
// ("" for none: KubeVirt then gives it a new one at every start).
type NIC struct{ Name, MAC string }

// NICs gives the VirtualMachine these interfaces: the first on the pod
// network (masquerade), the others bridged to Multus networks of their
// names.
func NICs(nics ...NIC) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		spec := &vm.Spec.Template.Spec
		for _, n := range nics {
			iface := kubevirtv1.Interface{Name: n.Name, MacAddress: n.MAC,
				InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}}}
			network := kubevirtv1.Network{Name: n.Name, NetworkSource: kubevirtv1.NetworkSource{Multus: &kubevirtv1.MultusNetwork{NetworkName: n.Name}}}
			if len(spec.Networks) == 0 {
				iface.InterfaceBindingMethod = kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}}
				network.NetworkSource = kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}
			}
			spec.Domain.Devices.Interfaces = append(spec.Domain.Devices.Interfaces, iface)
			spec.Networks = append(spec.Networks, network)
		}
	}
}

// Realistic shapes the VirtualMachine like a real guest, for benchmarks of
// what caches and indexes hold: 2 cores and 2 GiB requested, a container
// disk and a cloud-init disk whose user data has userDataLines lines, a
// 180 s grace period, and a description annotation.
func Realistic(userDataLines int) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		Annotations(map[string]string{"description": "a guest of the benchmark fleet, started by Wake-on-LAN",
			"vm.kubevirt.io/os": "fedora"})(vm)
		spec := &vm.Spec.Template.Spec
		spec.Domain.CPU = &kubevirtv1.CPU{Cores: 2}
		spec.Domain.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
		spec.Domain.Devices.Disks = []kubevirtv1.Disk{
			{Name: "root", DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
			{Name: "cloudinit", DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
		}
		spec.Volumes = []kubevirtv1.Volume{
			{Name: "root", VolumeSource: kubevirtv1.VolumeSource{ContainerDisk: &kubevirtv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}},
			{Name: "cloudinit", VolumeSource: kubevirtv1.VolumeSource{CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{
				UserData: "#cloud-config\n" + strings.Repeat("# provisioning script line for the benchmark guest\n", userDataLines),
			}}},
		}
		grace := int64(180)
		spec.TerminationGracePeriodSeconds = &grace
	}
}

// Labels adds labels to the VirtualMachine.
func Labels(labels map[string]string) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		if vm.Labels == nil {
			vm.Labels = map[string]string{}
		}
		maps.Copy(vm.Labels, labels)
	}
}

// Annotations adds annotations to the VirtualMachine.
func Annotations(annotations map[string]string) Option {
	return func(vm *kubevirtv1.VirtualMachine) {
		if vm.Annotations == nil {
			vm.Annotations = map[string]string{}
		}
		maps.Copy(vm.Annotations, annotations)
	}
}

// NodeSelector sets the instance's node selector (one no node matches keeps
// a started VirtualMachine's instance in phase Scheduling).
func NodeSelector(selector map[string]string) Option {
	return func(vm *kubevirtv1.VirtualMachine) { vm.Spec.Template.Spec.NodeSelector = selector }
}
