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
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// BuildServiceMonitor builds the ServiceMonitor that has Prometheus scrape
// the listeners with its ServiceAccount token (the endpoint refuses callers
// the API server does not authorize to get /metrics).
func BuildServiceMonitor(wc *wolv1beta1.WolConfig, p Params) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: SelectorLabels(wc)},
			Endpoints: []monitoringv1.Endpoint{{
				Port:            MetricsPortName,
				Path:            "/metrics",
				Scheme:          ptr.To(monitoringv1.SchemeHTTPS),
				BearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token", //nolint:staticcheck // what Prometheus uses for its own token
				HTTPConfigWithProxyAndTLSFiles: monitoringv1.HTTPConfigWithProxyAndTLSFiles{
					HTTPConfigWithTLSFiles: monitoringv1.HTTPConfigWithTLSFiles{
						TLSConfig: &monitoringv1.TLSConfig{
							// The listener serves a self-signed certificate;
							// the bearer token, not the certificate, is what
							// protects the endpoint.
							SafeTLSConfig: monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr.To(true)},
						},
					},
				},
			}},
		},
	}
}
