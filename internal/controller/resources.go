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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// The builders (one file per owned kind: deployment.go, rbac.go, scc.go,
// prometheusrule.go, service.go, serviceaccount.go, servicemonitor.go) are pure: they turn a
// WolConfig and the facts in Params into the objects the operator owns for
// it, with no client and no context. They are covered by table and
// golden-file tests. This file holds what they share.

const (
	// ListenerContainer is the name of the listener container.
	ListenerContainer = "listener"
	// ListenerBinary is the listener's entry point in the image.
	ListenerBinary = "/listener"
	// MetricsPortName names the listener's HTTPS port (metrics and probes).
	MetricsPortName = "metrics"
	// RequiredSCCAnnotation pins the listener pods to their own
	// SecurityContextConstraints on OpenShift.
	RequiredSCCAnnotation = "openshift.io/required-scc"
	// nonRootUID is the distroless "nonroot" user of the image.
	nonRootUID = 65532
	// privilegedPortLimit: binding a port below it needs NET_BIND_SERVICE.
	privilegedPortLimit = 1024
)

// Params are the facts about the cluster and the operator that, with a
// WolConfig, decide the desired objects.
type Params struct {
	// Namespace is the operator's namespace, where namespaced objects go.
	Namespace string
	// Image is the listener image when the WolConfig does not override it.
	Image string
	// OpenShift is true when security.openshift.io/v1 SCCs are served.
	OpenShift bool
	// Monitoring is true when monitoring.coreos.com/v1 ServiceMonitors are served.
	Monitoring bool
	// PrometheusRules is true when monitoring.coreos.com/v1 PrometheusRules
	// are served and the operator creates the listener alerts.
	PrometheusRules bool
}

// listenerNeeds is what the listener's sockets require of its security context.
type listenerNeeds struct {
	bindService bool // a port below 1024: NET_BIND_SERVICE
	raw         bool // raw Ethernet: NET_RAW
}

func needsOf(wc *wolv1beta1.WolConfig) listenerNeeds {
	n := listenerNeeds{raw: wc.Spec.RawEthernet.Enabled}
	for _, p := range wolPorts(wc) {
		if p < privilegedPortLimit {
			n.bindService = true
		}
	}
	if metricsPort(wc) < privilegedPortLimit {
		n.bindService = true
	}
	return n
}

// root is true when the listener must run as UID 0: capabilities added to a
// non-root container never become effective, and file capabilities are
// blocked by allowPrivilegeEscalation: false. Root keeps only the capabilities
// listed in capabilities(); every other one is dropped.
func (n listenerNeeds) root() bool { return n.bindService || n.raw }

func (n listenerNeeds) capabilities() []corev1.Capability {
	var caps []corev1.Capability
	if n.bindService {
		caps = append(caps, "NET_BIND_SERVICE")
	}
	if n.raw {
		caps = append(caps, "NET_RAW")
	}
	return caps
}

// wolPorts is spec.wolPorts, or the API's default when it is empty (the API
// server fills it in; the builders agree with it either way).
func wolPorts(wc *wolv1beta1.WolConfig) []int32 {
	if len(wc.Spec.WolPorts) == 0 {
		return wolv1beta1.DefaultWolPorts()
	}
	return wc.Spec.WolPorts
}

func metricsPort(wc *wolv1beta1.WolConfig) int32 {
	if wc.Spec.Listener.MetricsPort != nil {
		return *wc.Spec.Listener.MetricsPort
	}
	return wolv1beta1.DefaultMetricsPort
}

func objectMeta(wc *wolv1beta1.WolConfig, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       namespace,
		Labels:          ObjectLabels(wc),
		OwnerReferences: []metav1.OwnerReference{ownerRef(wc)},
	}
}

func ownerRef(wc *wolv1beta1.WolConfig) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         wolv1beta1.GroupVersion.String(),
		Kind:               "WolConfig",
		Name:               wc.Name,
		UID:                wc.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}
