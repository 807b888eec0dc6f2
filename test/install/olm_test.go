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
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/olm"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
)

// operatorNS is where docs/olm/subscription.yaml installs the operator.
const operatorNS = stack.OperatorNamespace

// nextVersion is the next minor release after the Makefile's VERSION.
func nextVersion(t *testing.T) string {
	t.Helper()
	v, err := utilversion.ParseSemantic(version)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d.%d.0", v.Major(), v.Minor()+1)
}

// renderTestCatalog adds the bundle in bundleDir to the catalog in
// catalogDir with its manifests inline and no image (OLM cannot pull a
// bundle image here), as `make catalog-add` does for the shipped catalog.
// With next set, the bundle is first generated for that version, as the
// release step does (`make catalog VERSION=next`).
func renderTestCatalog(t *testing.T, catalogDir, bundleDir, next string) {
	t.Helper()
	args := []string{"--no-print-directory", "-s", "CATALOG_RENDER_FLAGS=", "CATALOG_DIR=" + catalogDir, "BUNDLE_DIR=" + bundleDir}
	if next != "" {
		args = append(args, "catalog", "VERSION="+next)
	} else {
		args = append(args, "catalog-add")
	}
	mustExe(t, "make", args...)
}

// subscribe applies docs/olm/subscription.yaml (namespace, OperatorGroup,
// Subscription), with the Subscription pointed at the test catalog source.
func subscribe(t *testing.T) {
	t.Helper()
	var out bytes.Buffer
	for _, doc := range strings.Split(string(readFile(t, "docs/olm/subscription.yaml")), "\n---\n") {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "Subscription" {
			_ = unstructured.SetNestedField(u.Object, olm.CatalogSourceName, "spec", "source")
			_ = unstructured.SetNestedField(u.Object, olm.Namespace, "spec", "sourceNamespace")
		}
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	if err := kwokcluster.Apply(t.Context(), stk.Admin, out.Bytes(), fieldOwner); err != nil {
		t.Fatal(err)
	}
}

// get reads an OLM object.
func get(ctx context.Context, o *olm.OLM, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	return o.Dynamic.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

// installed waits until the Subscription has installed csv through a
// Complete InstallPlan and the CSV is Succeeded.
func installed(t *testing.T, o *olm.OLM, csv string) {
	t.Helper()
	eventually(t, "Subscription → InstallPlan Complete → CSV "+csv+" Succeeded", func(ctx context.Context) (bool, string, error) {
		sub, err := get(ctx, o, olm.Subscriptions, operatorNS, packageName)
		if err != nil {
			return false, err.Error(), nil
		}
		current, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
		plan, _, _ := unstructured.NestedString(sub.Object, "status", "installPlanRef", "name")
		if current != csv || plan == "" {
			state, _, _ := unstructured.NestedString(sub.Object, "status", "state")
			return false, fmt.Sprintf("Subscription %s, installed %q, InstallPlan %q", state, current, plan), nil
		}
		ip, err := get(ctx, o, olm.InstallPlans, operatorNS, plan)
		if err != nil {
			return false, err.Error(), nil
		}
		ipPhase, _, _ := unstructured.NestedString(ip.Object, "status", "phase")
		c, err := get(ctx, o, olm.CSVs, operatorNS, csv)
		if err != nil {
			return false, "InstallPlan " + ipPhase + ": " + err.Error(), nil
		}
		phase, _, _ := unstructured.NestedString(c.Object, "status", "phase")
		reason, _, _ := unstructured.NestedString(c.Object, "status", "message")
		return ipPhase == "Complete" && phase == "Succeeded", fmt.Sprintf("InstallPlan %s, CSV %s: %s", ipPhase, phase, reason), nil
	})
}

// TestOLM installs the operator through a real OLM from a catalog rendered
// from bundle/, runs it from the pod OLM's Deployment got, has it serve a
// WolConfig, then publishes the next release in the channel and lets OLM
// upgrade it.
func TestOLM(t *testing.T) {
	startStack(t, "olm")
	o, err := olm.Start(t.Context(), stk.Admin, stk.Kubeconfig(), filepath.Join(workdir, "olm"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	defer func() {
		if t.Failed() {
			t.Log(o.Logs(80))
		}
	}()
	catalogDir := filepath.Join(t.TempDir(), "catalog")
	current, next := packageName+".v"+version, nextVersion(t)
	const wc, vmNS = "olm", "olm-vms"

	if !t.Run("install", func(t *testing.T) {
		renderTestCatalog(t, catalogDir, "bundle", "")
		if err := o.ServeCatalog(t.Context(), catalogDir); err != nil {
			t.Fatal(err)
		}
		subscribe(t)
		installed(t, o, current)
		operatorRolledTo(t, imageBase+":v"+version)
		// The operator runs with what OLM made of the CSV: its Deployment's
		// arguments and environment, its ServiceAccount and the
		// permissions OLM granted it from the CSV.
		if err := stk.StartOperator(t.Context(), "--discovery-interval=2s"); err != nil {
			t.Fatal(err)
		}
		createWolConfig(t, wc, vmNS)
		listenerReady(t, wc, imageBase+":v"+version)
	}) {
		return
	}

	t.Run("upgrade", func(t *testing.T) {
		renderTestCatalog(t, catalogDir, filepath.Join(t.TempDir(), "bundle"), next)
		if owned := ownedBy(t, o, current); len(owned) < 3 {
			t.Fatalf("OLM's objects for %s: %v; want at least its Deployment, RBAC and CSV", current, owned)
		} else {
			t.Logf("OLM's objects for %s before the upgrade: %v", current, owned)
		}
		upgrade := beginUpgrade(t, wc, vmNS)
		if err := o.ServeCatalog(t.Context(), catalogDir); err != nil {
			t.Fatal(err)
		}
		// The new InstallPlan completes only if OLM's CRD upgrade check
		// accepts the WolConfig already stored under the new CRD.
		newCSV := packageName + ".v" + next
		installed(t, o, newCSV)
		gone(t, "the old CSV "+current, csvObject(current))
		upgrade.finish(t, imageBase+":v"+next)
		eventually(t, "nothing left of "+current, func(context.Context) (bool, string, error) {
			left := ownedBy(t, o, current)
			return len(left) == 0, strings.Join(left, ", "), nil
		})
	})
}

// csvObject is a placeholder object for the CSV name, to wait for its
// deletion with the typed client.
func csvObject(name string) client.Object {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(olm.CSVs.GroupVersion().WithKind("ClusterServiceVersion"))
	u.SetNamespace(operatorNS)
	u.SetName(name)
	return u
}

// ownedBy lists what OLM created for a CSV (labelled olm.owner=<csv>), in
// any namespace, and the CSV's copies.
func ownedBy(t *testing.T, o *olm.OLM, csv string) []string {
	t.Helper()
	var out []string
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "services"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	} {
		list, err := o.Dynamic.Resource(gvr).List(t.Context(), metav1.ListOptions{LabelSelector: "olm.owner=" + csv})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			out = append(out, gvr.Resource+" "+item.GetNamespace()+"/"+item.GetName())
		}
	}
	list, err := o.Dynamic.Resource(olm.CSVs).List(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=" + csv})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items {
		out = append(out, "clusterserviceversions "+item.GetNamespace()+"/"+item.GetName())
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
