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
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/controller"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

const csvFile = "bundle/manifests/" + packageName + ".clusterserviceversion.yaml"

// explainedWarnings are the warnings `operator-sdk bundle validate
// --select-optional suite=operatorframework` may print, each explained in
// docs/olm-validation.md under the given heading. A new warning fails the
// suite until it is fixed or explained there.
var explainedWarnings = map[string]string{
	"this bundle is using APIs which were deprecated and removed in v1.25": "events.k8s.io",
}

func csv(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(readFile(t, csvFile), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestBundleValidate(t *testing.T) {
	r := mustExe(t, nil, tool(t, "operator-sdk"), "bundle", "validate", "./bundle", "--select-optional", "suite=operatorframework")
	out := r.stdout + r.stderr
	if !strings.Contains(out, "All validation tests have completed successfully") {
		t.Fatalf("bundle validate did not succeed:\n%s", out)
	}
	doc := string(readFile(t, "docs/olm-validation.md"))
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "level=warning") {
			continue
		}
		explained := false
		for w, heading := range explainedWarnings {
			if strings.Contains(line, w) {
				explained = true
				if !strings.Contains(doc, w) || !strings.Contains(doc, heading) {
					t.Errorf("docs/olm-validation.md does not explain %q", w)
				}
			}
		}
		if !explained {
			t.Errorf("unexplained bundle validate warning (fix it or explain it in docs/olm-validation.md and explainedWarnings):\n%s", line)
		}
	}
}

func TestBundleContents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "bundle", "manifests", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objects(t, data) {
			switch o.GetKind() {
			case "SecurityContextConstraints", "ServiceMonitor", "Namespace", "Deployment":
				t.Errorf("%s: a bundle must not hold a %s (the operator creates SCCs and ServiceMonitors at run time)", filepath.Base(f), o.GetKind())
			}
		}
		if regexp.MustCompile(`image: \S+:latest|controller:latest`).Match(data) {
			t.Errorf("%s names a latest or placeholder image", filepath.Base(f))
		}
	}

	c := csv(t)
	ann := c.GetAnnotations()
	if ann["containerImage"] != operatorImage {
		t.Errorf("containerImage = %q, want %q", ann["containerImage"], operatorImage)
	}
	if !slices.Contains([]string{"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot"}, ann["capabilities"]) {
		t.Errorf("capabilities = %q", ann["capabilities"])
	}
	for _, f := range []string{"disconnected", "fips-compliant", "proxy-aware", "tls-profiles", "token-auth-aws",
		"token-auth-azure", "token-auth-gcp", "cnf", "cni", "csi"} {
		if v := ann["features.operators.openshift.io/"+f]; v != "true" && v != "false" {
			t.Errorf("features.operators.openshift.io/%s = %q, want true or false", f, v)
		}
	}
	var ns map[string]any
	if err := json.Unmarshal([]byte(ann["operatorframework.io/suggested-namespace-template"]), &ns); err != nil {
		t.Errorf("suggested-namespace-template: %v", err)
	}

	spec := c.Object["spec"].(map[string]any)
	if v, _ := spec["minKubeVersion"].(string); v == "" {
		t.Error("no minKubeVersion")
	}
	if desc, _ := spec["description"].(string); !strings.Contains(desc, "### Prerequisites") || !strings.Contains(desc, "SecurityContextConstraints") {
		t.Error("the description lacks the prerequisites or the SCC section")
	}
	allNamespaces := false
	for _, m := range spec["installModes"].([]any) {
		mode := m.(map[string]any)
		if mode["type"] == "AllNamespaces" && mode["supported"] == true {
			allNamespaces = true
		}
	}
	if !allNamespaces {
		t.Error("installModes do not support AllNamespaces")
	}
	related := false
	for _, ri := range spec["relatedImages"].([]any) {
		if ri.(map[string]any)["image"] == operatorImage {
			related = true
		}
	}
	if !related {
		t.Errorf("relatedImages lack %s", operatorImage)
	}
	icon := spec["icon"].([]any)[0].(map[string]any)
	svg := readFile(t, "config/manifests/bases/kubevirt-wol.svg")
	if icon["base64data"] != base64.StdEncoding.EncodeToString(svg) || icon["mediatype"] != "image/svg+xml" {
		t.Error("the CSV icon is not config/manifests/bases/kubevirt-wol.svg (base64-encode it into the CSV base)")
	}

	scorecard := string(readFile(t, "bundle/tests/scorecard/config.yaml"))
	for _, img := range regexp.MustCompile(`image: (\S+)`).FindAllStringSubmatch(scorecard, -1) {
		if strings.HasSuffix(img[1], ":unknown") || strings.HasSuffix(img[1], ":latest") {
			t.Errorf("scorecard image %s has no real tag", img[1])
		}
	}
}

// TestBundleDescriptorsExist checks that every spec and status descriptor of
// the CSV names a field of the CRD.
func TestBundleDescriptorsExist(t *testing.T) {
	var crd map[string]any
	if err := yaml.Unmarshal(readFile(t, "bundle/manifests/wol.pillon.org_wolconfigs.yaml"), &crd); err != nil {
		t.Fatal(err)
	}
	schema := crd["spec"].(map[string]any)["versions"].([]any)[0].(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
	lookup := func(s map[string]any, path string) bool {
		for _, part := range strings.Split(path, ".") {
			field, index, isList := strings.Cut(part, "[")
			props, _ := s["properties"].(map[string]any)
			next, ok := props[field].(map[string]any)
			if !ok {
				return false
			}
			s = next
			if isList && index != "" {
				if s, ok = s["items"].(map[string]any); !ok {
					return false
				}
			}
		}
		return true
	}
	owned := csv(t).Object["spec"].(map[string]any)["customresourcedefinitions"].(map[string]any)["owned"].([]any)
	if len(owned) != 1 {
		t.Fatalf("want one owned CRD, got %d", len(owned))
	}
	def := owned[0].(map[string]any)
	root := schema["properties"].(map[string]any)
	for kind, top := range map[string]string{"specDescriptors": "spec", "statusDescriptors": "status"} {
		descriptors, _ := def[kind].([]any)
		described := map[string]bool{}
		for _, d := range descriptors {
			path := d.(map[string]any)["path"].(string)
			if !lookup(root[top].(map[string]any), path) {
				t.Errorf("%s path %q is not a field of the CRD's %s", kind, path, top)
			}
			first, _, _ := strings.Cut(path, ".")
			first, _, _ = strings.Cut(first, "[")
			described[first] = true
		}
		// Every field the console may show has a descriptor: a new API field
		// needs one in config/manifests/bases/kubevirt-wol.clusterserviceversion.yaml.
		for field := range root[top].(map[string]any)["properties"].(map[string]any) {
			if !described[field] {
				t.Errorf("%s.%s has no %s entry in config/manifests/bases/kubevirt-wol.clusterserviceversion.yaml (add one, then make bundle)", top, field, kind)
			}
		}
	}
}

// TestBundlePermissionsSuffice gives a ServiceAccount exactly the CSV's
// permissions, as OLM does, and has it create everything the operator
// creates for a WolConfig on OpenShift with the Prometheus Operator and a
// SecureOn password: the
// API server's RBAC escalation checks pass only if the operator holds every
// permission it grants the listener.
func TestBundlePermissionsSuffice(t *testing.T) {
	ctx := context.Background()
	const ns = "wol-olm-rbac"
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, wolv1beta1.AddToScheme, securityv1.Install, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := client.New(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	install := csv(t).Object["spec"].(map[string]any)["install"].(map[string]any)["spec"].(map[string]any)
	deployment := install["deployments"].([]any)[0].(map[string]any)
	sa, _, _ := unstructured.NestedString(deployment, "spec", "template", "spec", "serviceAccountName")
	create := func(c client.Client, o client.Object) {
		t.Helper()
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	create(admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(admin, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}})
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}
	for kind, clusterScoped := range map[string]bool{"clusterPermissions": true, "permissions": false} {
		perms, _ := install[kind].([]any)
		for i, p := range perms {
			perm := p.(map[string]any)
			if perm["serviceAccountName"] != sa {
				t.Fatalf("%s[%d] is for %v, not the operator's ServiceAccount %s", kind, i, perm["serviceAccountName"], sa)
			}
			var rules []rbacv1.PolicyRule
			data, _ := json.Marshal(perm["rules"])
			if err := json.Unmarshal(data, &rules); err != nil {
				t.Fatal(err)
			}
			name := "olm-" + kind
			ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Name: name}
			if clusterScoped {
				ref.Kind = "ClusterRole"
				create(admin, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
				create(admin, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: ref, Subjects: subject})
			} else {
				ref.Kind = "Role"
				create(admin, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rules})
				create(admin, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, RoleRef: ref, Subjects: subject})
			}
		}
	}

	const vmNamespace = "wol-olm-vms"
	create(admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vmNamespace}})
	wc := &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: "olm-rbac"}}
	wc.Spec.RawEthernet.Enabled = true
	wc.Spec.SecureOn = &wolv1beta1.SecureOnSpec{PasswordKey: "password"}
	create(admin, wc)
	operator, err := client.New(testenv.Impersonate(adminCfg, ns, sa), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	p := controller.Params{Namespace: ns, Image: operatorImage, OpenShift: true, Monitoring: true}
	for _, o := range []client.Object{
		controller.BuildSCC(wc, p),
		controller.BuildServiceAccount(wc, p),
		controller.BuildClusterRole(wc, p),
		controller.BuildClusterRoleBinding(wc, p),
		controller.BuildDeployment(wc, p),
		controller.BuildMetricsService(wc, p),
		controller.BuildServiceMonitor(wc, p),
	} {
		create(operator, o)
	}
	// The SecureOn Secret's Role and RoleBinding, in the operator's
	// namespace (spec.secureOn) and in a VirtualMachine namespace.
	for _, secretNS := range controller.SecureOnNamespaces(wc, p, []string{vmNamespace}) {
		create(operator, controller.BuildSecureOnRole(wc, p, secretNS))
		create(operator, controller.BuildSecureOnRoleBinding(wc, p, secretNS))
	}
}
