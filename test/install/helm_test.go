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
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// helmCmd runs bin/helm against the test's cluster, with its cache,
// configuration and data in a temporary folder.
func helmCmd(t *testing.T) func(args ...string) string {
	dir := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), filepath.Join(bin, "helm"), append([]string{"--kubeconfig", stk.Kubeconfig()}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// TestHelm installs dist/chart as docs/INSTALL.md says for a fresh
// cluster (Helm 3.22's --create-namespace --take-ownership with
// namespace.create=true fails there: Helm looks for objects to adopt before
// it creates the namespace, then finds the namespace already exists), runs the operator
// from the chart's Deployment, upgrades to the next version's chart (`make
// chart VERSION=<next>` into a temporary folder) with the WolConfig and its
// listener surviving, and uninstalls: the CRD, the WolConfig and the
// namespace stay (as docs/INSTALL.md says), and deleting the WolConfig then
// takes its listener with it.
func TestHelm(t *testing.T) {
	startStack(t, "helm")
	helm := helmCmd(t)
	next := nextVersion(t)
	nextChart := filepath.Join(t.TempDir(), "chart")
	mustExe(t, "make", "--no-print-directory", "-s", "chart", "VERSION="+next, "CHART_DIR="+nextChart)
	const wc, vmNS = "helm", "helm-vms"
	install := []string{"--namespace", operatorNS, "--wait", "--timeout", "3m"}

	// docs/INSTALL.md: on a fresh cluster, make and label the namespace,
	// then install into it.
	kubectl := filepath.Join(bin, "kubectl")
	mustExe(t, kubectl, "--kubeconfig", stk.Kubeconfig(), "create", "namespace", operatorNS)
	mustExe(t, kubectl, "--kubeconfig", stk.Kubeconfig(), "label", "namespace", operatorNS, "pod-security.kubernetes.io/enforce=privileged")
	helm(append([]string{"install", packageName, "dist/chart"}, install...)...)
	operatorRolledTo(t, imageBase+":v"+version)
	if err := stk.StartOperator(t.Context(), "--discovery-interval=2s"); err != nil {
		t.Fatal(err)
	}
	createWolConfig(t, wc, vmNS)
	listenerReady(t, wc, imageBase+":v"+version)

	upgrade := beginUpgrade(t, wc, vmNS)
	helm(append([]string{"upgrade", packageName, nextChart}, install...)...)
	var releases []struct {
		Chart string `json:"chart"`
	}
	if err := json.Unmarshal([]byte(helm("list", "--namespace", operatorNS, "-o", "json")), &releases); err != nil {
		t.Fatal(err)
	}
	if len(releases) != 1 || releases[0].Chart != packageName+"-"+next {
		t.Fatalf("helm list after the upgrade: %+v, want one release of chart %s-%s", releases, packageName, next)
	}
	upgrade.finish(t, imageBase+":v"+next)

	helm("uninstall", packageName, "--namespace", operatorNS, "--wait")
	gone(t, "the operator's Deployment", &appsv1.Deployment{ObjectMeta: objectMeta(operatorNS, "kubevirt-wol-controller-manager")})
	stk.Operator.Stop()
	for what, obj := range map[string]client.Object{
		"the CRD":                   crdObject(),
		"the WolConfig":             &wolv1beta1.WolConfig{ObjectMeta: objectMeta("", wc)},
		"the namespace":             &corev1.Namespace{ObjectMeta: objectMeta("", operatorNS)},
		"the listener's Deployment": &appsv1.Deployment{ObjectMeta: objectMeta(operatorNS, listenerName(wc))},
	} {
		if err := stk.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Errorf("after helm uninstall, %s: %v; docs/INSTALL.md says it stays", what, err)
		}
	}
	// Without the operator, deleting the WolConfig still removes its
	// listener (owner references; no finalizer waits for the operator).
	if err := stk.Client.Delete(t.Context(), &wolv1beta1.WolConfig{ObjectMeta: objectMeta("", wc)}); err != nil {
		t.Fatal(err)
	}
	gone(t, "the listener's Deployment", &appsv1.Deployment{ObjectMeta: objectMeta(operatorNS, listenerName(wc))})
}
