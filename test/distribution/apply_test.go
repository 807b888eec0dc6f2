//go:build distribution

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

package distribution

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

const fieldManager = "kubevirt-wol-dist-test"

// kubectl runs bin/kubectl against the test API server.
func kubectl(t *testing.T, stdin []byte, args ...string) (result, error) {
	t.Helper()
	return exe(t, nil, stdin, tool(t, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// applyDryRun applies manifests with a server-side dry run and strict field
// validation, and fails the test unless the API server accepts every object.
// A dry run cannot put objects in a namespace that does not exist, so the
// Namespaces the manifests hold are applied for real first, and objects
// without a namespace go to defaultNS (created if needed).
func applyDryRun(t *testing.T, manifests []byte, defaultNS string) {
	t.Helper()
	objs := objects(t, manifests)
	if len(objs) == 0 {
		t.Fatal("no objects to apply")
	}
	var namespaces [][]byte
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			data, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			namespaces = append(namespaces, data)
		}
	}
	if defaultNS != "" {
		namespaces = append(namespaces, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+defaultNS+"\n"))
	}
	for _, ns := range namespaces {
		if _, err := kubectl(t, ns, "apply", "--server-side", "--force-conflicts", "--field-manager", fieldManager, "-f", "-"); err != nil {
			t.Fatalf("creating the namespace: %v", err)
		}
	}
	args := []string{"apply", "--server-side", "--force-conflicts", "--field-manager", fieldManager,
		"--dry-run=server", "--validate=strict", "-f", "-"}
	if defaultNS != "" {
		args = append(args, "--namespace", defaultNS)
	}
	r, err := kubectl(t, manifests, args...)
	if err != nil {
		t.Fatalf("the API server refused the manifests: %v", err)
	}
	if got := strings.Count(r.stdout, "(server dry run)"); got != len(objs) {
		t.Fatalf("the dry run applied %d objects, want %d:\n%s", got, len(objs), r.stdout)
	}
	t.Logf("accepted %d objects", len(objs))
}

func TestInstallYAMLIsAccepted(t *testing.T) {
	applyDryRun(t, readFile(t, "dist/install.yaml"), "")
}

// TestKustomizeDefaultIsAccepted applies what `kubectl apply -k
// config/default` installs, and checks that it is dist/install.yaml: the
// image committed in config/manager is the release's (make release sets it).
func TestKustomizeDefaultIsAccepted(t *testing.T) {
	r := mustExe(t, nil, tool(t, "kustomize"), "build", "config/default")
	applyDryRun(t, []byte(r.stdout), "")
	if r.stdout != string(readFile(t, "dist/install.yaml")) {
		t.Error("kustomize build config/default differs from dist/install.yaml: is config/manager's image the release's (make release VERSION=...)?")
	}
}

func TestSamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			applyDryRun(t, data, "")
		})
	}
	if n == 0 {
		t.Fatal("no samples in config/samples")
	}
	t.Run("kustomize build config/samples", func(t *testing.T) {
		r := mustExe(t, nil, tool(t, "kustomize"), "build", "config/samples")
		applyDryRun(t, []byte(r.stdout), "")
	})
}

func TestChartRendersAreAccepted(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			applyDryRun(t, helmTemplate(t, c.args...), namespace)
		})
	}
}

// TestBundleManifestsAreAccepted applies what OLM would create from the
// bundle besides the operator: the CRD, RBAC, Service and NetworkPolicy
// (into the namespace OLM installs to), and the CSV's alm-examples.
func TestBundleManifestsAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "bundle", "manifests", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifests []byte
	for _, f := range files {
		if strings.HasSuffix(f, ".clusterserviceversion.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, []byte("---\n")...)
		manifests = append(manifests, data...)
	}
	applyDryRun(t, manifests, namespace)

	t.Run("alm-examples", func(t *testing.T) {
		var examples []map[string]any
		if err := yaml.Unmarshal([]byte(csv(t).GetAnnotations()["alm-examples"]), &examples); err != nil {
			t.Fatal(err)
		}
		if len(examples) == 0 {
			t.Fatal("the CSV has no alm-examples")
		}
		var docs []byte
		for _, e := range examples {
			data, err := yaml.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(append(docs, []byte("---\n")...), data...)
		}
		applyDryRun(t, docs, "")
	})
}

// TestHelmInstallUpgradeUninstall installs the chart for real the way the
// docs say (helm install --create-namespace --take-ownership with
// namespace.create), upgrades it, and uninstalls it: the CRD (crd.keep) and
// the namespace stay.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	const ns = "wol-helm"
	helm := func(args ...string) {
		t.Helper()
		mustExe(t, helmEnv(t), tool(t, "helm"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	}
	helm("install", packageName, "dist/chart", "--namespace", ns, "--create-namespace", "--take-ownership",
		"--set", "namespace.create=true", "--set", "platform=kubernetes", "--wait=false")
	r, err := kubectl(t, nil, "get", "namespace", ns, "-o", "jsonpath={.metadata.labels}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.stdout, `"pod-security.kubernetes.io/enforce":"privileged"`) {
		t.Errorf("the release namespace lacks the privileged Pod Security label: %s", r.stdout)
	}
	if _, err := kubectl(t, nil, "get", "deployment", "-n", ns, "kubevirt-wol-controller-manager"); err != nil {
		t.Fatal(err)
	}

	helm("upgrade", packageName, "dist/chart", "--namespace", ns, "--reuse-values", "--set", "manager.replicas=2")
	r, err = kubectl(t, nil, "get", "deployment", "-n", ns, "kubevirt-wol-controller-manager", "-o", "jsonpath={.spec.replicas}")
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != "2" {
		t.Errorf("after the upgrade the operator has %s replicas, want 2", r.stdout)
	}

	helm("uninstall", packageName, "--namespace", ns)
	if _, err := kubectl(t, nil, "get", "crd", "wolconfigs.wol.pillon.org"); err != nil {
		t.Errorf("crd.keep: the CRD is gone after helm uninstall: %v", err)
	}
	if _, err := kubectl(t, nil, "get", "namespace", ns); err != nil {
		t.Errorf("the namespace is gone after helm uninstall: %v", err)
	}
	if _, err := kubectl(t, nil, "get", "clusterrole", "kubevirt-wol-manager-role"); err == nil {
		t.Error("the operator's ClusterRole is still there after helm uninstall")
	}
}

// helmEnv keeps helm's cache, configuration and data out of the user's home.
func helmEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{
		"HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HELM_DATA_HOME=" + filepath.Join(dir, "data"),
	}
}

// TestOLMExamplesAreAccepted applies the CatalogSource, OperatorGroup and
// Subscription of docs/olm (what docs/openshift.md tells users to apply)
// with OLM's CRDs, from the operator-framework/api module operator-sdk pins,
// and checks they name this catalog's package, channel and image.
func TestOLMExamplesAreAccepted(t *testing.T) {
	// go mod download fetches the module when this module cache lacks it
	// (bin/operator-sdk may have been built with another cache).
	r, err := exe(t, nil, nil, "go", "-C", "hack/tools/operator-sdk", "mod", "download", "-json", "github.com/operator-framework/api")
	var mod struct{ Dir string }
	if err == nil {
		err = json.Unmarshal([]byte(r.stdout), &mod)
	}
	if err != nil || mod.Dir == "" {
		t.Fatalf("locating OLM's CRDs in the operator-framework/api module pinned by hack/tools/operator-sdk: %v", err)
	}
	crds := filepath.Join(mod.Dir, "crds")
	kinds := []string{"catalogsources", "operatorgroups", "subscriptions"}
	paths := make([]string, 0, len(kinds))
	for _, kind := range kinds {
		paths = append(paths, filepath.Join(crds, "operators.coreos.com_"+kind+".yaml"))
	}
	if _, err := envtest.InstallCRDs(adminCfg, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"catalogsource.yaml", "subscription.yaml"} {
		t.Run(f, func(t *testing.T) {
			data := readFile(t, filepath.Join("docs", "olm", f))
			for _, o := range objects(t, data) {
				if ns := o.GetNamespace(); ns != "" && o.GetKind() != "Namespace" {
					applyDryRun(t, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n"), "")
				}
			}
			applyDryRun(t, data, "")
		})
	}
	all := string(readFile(t, "docs/olm/catalogsource.yaml")) + string(readFile(t, "docs/olm/subscription.yaml"))
	for _, want := range []string{"image: " + catalogImage, "channel: stable", "name: " + packageName} {
		if !strings.Contains(all, want) {
			t.Errorf("docs/olm lacks %q", want)
		}
	}
}
