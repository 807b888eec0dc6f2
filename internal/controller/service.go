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
	"k8s.io/apimachinery/pkg/util/intstr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// BuildMetricsService builds the Service in front of the listeners' HTTPS
// metrics endpoints.
func BuildMetricsService(wc *wolv1beta1.WolConfig, p Params) *corev1.Service {
	port := metricsPort(wc)
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(wc),
			Ports: []corev1.ServicePort{{
				Name:       MetricsPortName,
				Port:       port,
				TargetPort: intstr.FromString(MetricsPortName),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}
