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

// Package v1beta1 contains the v1beta1 API of the wol.pillon.org group: the
// cluster-scoped WolConfig that tells kubevirt-wol which VirtualMachines may
// be woken by a Wake-on-LAN magic packet and how the listener runs.
// +kubebuilder:object:generate=true
// +groupName=wol.pillon.org
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the WolConfig API.
	GroupVersion = schema.GroupVersion{Group: "wol.pillon.org", Version: "v1beta1"}

	// SchemeBuilder registers the types of this package in a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes adds the WolConfig types to s.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &WolConfig{}, &WolConfigList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
