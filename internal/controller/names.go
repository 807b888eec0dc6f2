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

package controller

import (
	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// Standard labels on every object the operator creates.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	// AppName is the app.kubernetes.io/name of the listener's objects.
	AppName = "kubevirt-wol"
	// ComponentListener is the app.kubernetes.io/component of the listener.
	ComponentListener = "listener"
	// ManagedBy is the app.kubernetes.io/managed-by of the operator's objects.
	ManagedBy = "kubevirt-wol-operator"

	// FieldOwner is the server-side apply field manager of the operator.
	FieldOwner = "kubevirt-wol-operator"
)

// ListenerName names the namespaced objects of a WolConfig's listener:
// Deployment, ServiceAccount, metrics Service, ServiceMonitor and
// PrometheusRule.
func ListenerName(wc *wolv1beta1.WolConfig) string { return "wol-listener-" + wc.Name }

// ListenerClusterName names the cluster-scoped objects of a WolConfig's
// listener: ClusterRole, ClusterRoleBinding and SecurityContextConstraints.
func ListenerClusterName(wc *wolv1beta1.WolConfig) string { return "kubevirt-wol-listener-" + wc.Name }

// ListenerVMsName names the ClusterRole of what a WolConfig's listener may do
// to VirtualMachines, and the bindings that grant it in the WolConfig's scope.
func ListenerVMsName(wc *wolv1beta1.WolConfig) string { return ListenerClusterName(wc) + "-vms" }

// SelectorLabels select the listener pods of a WolConfig.
func SelectorLabels(wc *wolv1beta1.WolConfig) map[string]string {
	return map[string]string{
		LabelName:      AppName,
		LabelComponent: ComponentListener,
		LabelInstance:  wc.Name,
	}
}

// ObjectLabels are the labels of every object the operator creates for a WolConfig.
func ObjectLabels(wc *wolv1beta1.WolConfig) map[string]string {
	l := SelectorLabels(wc)
	l[LabelPartOf] = AppName
	l[LabelManagedBy] = ManagedBy
	return l
}
