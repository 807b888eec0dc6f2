//go:build install

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

package install

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
)

// TestKubectl applies dist/install.yaml as docs/INSTALL.md says (kubectl
// apply --server-side), runs the operator from its Deployment, has it serve
// a WolConfig, then uninstalls as docs/INSTALL.md says (the WolConfigs
// first, then kubectl delete -f dist/install.yaml): nothing of kubevirt-wol
// is left in any API, neither what install.yaml created nor what the
// operator created at run time (the listener's Deployment, ServiceAccount,
// RBAC in the VMs' namespaces).
func TestKubectl(t *testing.T) {
	startStack(t, "kubectl")
	kubectl := func(args ...string) {
		t.Helper()
		mustExe(t, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", stk.Kubeconfig()}, args...)...)
	}
	const wc, vmNS = "kubectl", "kubectl-vms"
	before := leftovers(t)
	if len(before) > 0 {
		t.Fatalf("kubevirt-wol objects before the installation: %v", before)
	}
	kubectl("apply", "--server-side", "-f", "dist/install.yaml")
	operatorRolledTo(t, imageBase+":v"+version)
	if err := stk.StartOperator(t.Context(), "--discovery-interval=2s"); err != nil {
		t.Fatal(err)
	}
	createWolConfig(t, wc, vmNS)
	listenerReady(t, wc, imageBase+":v"+version)
	installed := leftovers(t)
	t.Logf("kubevirt-wol objects while installed: %v", installed)
	if !hasPrefixed(installed, "clusterroles /", "kubevirt-wol-listener-"+wc) || !hasPrefixed(installed, "deployments "+operatorNS+"/", listenerName(wc)) {
		t.Fatalf("the sweep does not see the listener's ClusterRole and Deployment: %v", installed)
	}

	// docs/INSTALL.md: delete the WolConfigs first, in the foreground (the
	// command returns once the garbage collector has deleted what each
	// owns). Deleting the CRD while the collector still has a WolConfig's
	// objects to delete leaves them behind for good (their owner's kind is
	// no longer served, so the collector cannot tell it is gone): their
	// ClusterRoles, ClusterRoleBinding and the RoleBindings in the VMs'
	// namespaces.
	kubectl("delete", "wolconfigs", "--all", "--cascade=foreground", "--wait")
	kubectl("delete", "-f", "dist/install.yaml", "--wait=false")
	eventually(t, "the operator's pods gone", func(ctx context.Context) (bool, string, error) {
		pods, err := stk.Pods(ctx, operatorNS, stack.OperatorSelector)
		return len(pods) == 0, "", err
	})
	stk.Operator.Stop() // its pod is gone
	eventually(t, "nothing of kubevirt-wol left", func(context.Context) (bool, string, error) {
		left := leftovers(t)
		return len(left) == 0, strings.Join(left, ", "), nil
	})
}

func hasPrefixed(items []string, prefix, name string) bool {
	for _, i := range items {
		if strings.HasPrefix(i, prefix+name) {
			return true
		}
	}
	return false
}

// leftovers lists every object of every listable API whose name or
// namespace says kubevirt-wol (or wol-listener), and every WolConfig, but
// events.
func leftovers(t *testing.T) []string {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(stk.Admin)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(stk.Admin)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := disc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			if r.Name == "events" || strings.Contains(r.Name, "/") || !strings.Contains(strings.Join(r.Verbs, ","), "list") {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).List(t.Context(), metav1.ListOptions{})
			if err != nil {
				continue // an aggregated API without a list (KubeVirt's subresources)
			}
			for _, i := range items.Items {
				id := i.GetNamespace() + "/" + i.GetName()
				if gv.Group == "wol.pillon.org" || strings.Contains(id, "kubevirt-wol") || strings.Contains(id, "wol-listener") {
					out = append(out, r.Name+" "+id)
				}
			}
		}
	}
	return out
}
