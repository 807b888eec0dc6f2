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
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// desiredObjects builds every object the WolConfig owns, for the APIs the
// cluster serves: the listener's identity and access (ListenerAccess), its
// metrics Service, SCC, ServiceMonitor and PrometheusRule (its alerts), and
// the Deployment only when the WolConfig may run a listener.
func desiredObjects(wc *wolv1beta1.WolConfig, p Params, withDeployment bool, secureOn []string) []client.Object {
	objs := append(ListenerAccess(wc, p, secureOn), BuildMetricsService(wc, p))
	if p.OpenShift {
		objs = append(objs, BuildSCC(wc, p))
	}
	if p.Monitoring {
		objs = append(objs, BuildServiceMonitor(wc, p))
	}
	if p.PrometheusRules {
		objs = append(objs, BuildPrometheusRule(wc, p))
	}
	if withDeployment {
		objs = append(objs, BuildDeployment(wc, p))
	}
	return objs
}

// ListenerAccess builds the listener's ServiceAccount and everything it is
// granted: the process's ClusterRole and binding; the VM ClusterRole, bound
// cluster-wide or in each namespace of the scope (see VMNamespaces); a Role
// and RoleBinding for the SecureOn Secret of each of secureOn (see
// SecureOnNamespaces). Roles come before their bindings (a binding to a
// missing role is refused). Tests that run the listener's code use it to
// grant exactly what the operator grants.
func ListenerAccess(wc *wolv1beta1.WolConfig, p Params, secureOn []string) []client.Object {
	objs := []client.Object{
		BuildServiceAccount(wc, p),
		BuildClusterRole(wc, p),
		BuildClusterRoleBinding(wc, p),
		BuildVMClusterRole(wc, p),
	}
	if namespaces, all := VMNamespaces(wc); all {
		objs = append(objs, BuildVMClusterRoleBinding(wc, p))
	} else {
		for _, ns := range namespaces {
			objs = append(objs, BuildVMRoleBinding(wc, p, ns))
		}
	}
	for _, ns := range secureOn {
		objs = append(objs, BuildSecureOnRole(wc, p, ns), BuildSecureOnRoleBinding(wc, p, ns))
	}
	return objs
}
