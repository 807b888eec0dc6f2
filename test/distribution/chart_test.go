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
	"reflect"
	"slices"

	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const everythingOn = "test/distribution/testdata/everything-on.values.yaml"

// chartCases are the renders the suite lints and applies.
var chartCases = []struct {
	name string
	args []string
}{
	{name: "default values"},
	{name: "everything on, Kubernetes with the Prometheus Operator",
		args: []string{"-f", everythingOn, "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
			"--api-versions", "monitoring.coreos.com/v1/PrometheusRule"}},
	{name: "everything on, OpenShift",
		args: []string{"-f", everythingOn, "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
			"--api-versions", "monitoring.coreos.com/v1/PrometheusRule", "--api-versions", "security.openshift.io/v1"}},
}

func helmTemplate(t *testing.T, args ...string) []byte {
	t.Helper()
	r := mustExe(t, helmEnv(t), tool(t, "helm"), append([]string{
		"template", packageName, "dist/chart", "--namespace", namespace, "--kube-version", kubeVersion,
	}, args...)...)
	return []byte(r.stdout)
}

func TestChartLintStrict(t *testing.T) {
	for _, values := range [][]string{nil, {"-f", everythingOn}} {
		r := mustExe(t, helmEnv(t), tool(t, "helm"), append([]string{
			"lint", "--strict", "--kube-version", kubeVersion, "dist/chart",
		}, values...)...)
		if !strings.Contains(r.stdout, "0 chart(s) failed") {
			t.Errorf("helm lint %v:\n%s", values, r.stdout)
		}
	}
}

// TestChartMatchesConfig is the chart's drift check beyond `make chart`
// leaving no diff: with the default values it renders exactly what
// dist/install.yaml (kustomize build config/default) holds, but the
// Namespace (Helm installs into an existing one) and the labels Helm adds.
func TestChartMatchesConfig(t *testing.T) {
	chart := byKey(t, helmTemplate(t))
	install := byKey(t, readFile(t, "dist/install.yaml"))
	for k, o := range install {
		if o.GetKind() == "Namespace" {
			delete(install, k)
		}
	}
	for k, want := range install {
		got, ok := chart[k]
		if !ok {
			t.Errorf("the chart does not render %s", k)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			g, _ := yaml.Marshal(normalize(got).Object)
			w, _ := yaml.Marshal(normalize(want).Object)
			t.Errorf("%s differs from dist/install.yaml:\nchart:\n%s\ninstall.yaml:\n%s", k, g, w)
		}
	}
	for k := range chart {
		if _, ok := install[k]; !ok {
			t.Errorf("the chart renders %s, which config/default does not have", k)
		}
	}
}

// TestChartOptionalParts checks the switches: the ServiceMonitor and the
// PrometheusRule only with their API, the operator told to create no
// PrometheusRule of its own when the chart installs one, the namespace's Pod
// Security labels only off OpenShift, user IDs left to OpenShift, the CRD's
// keep policy.
func TestChartOptionalParts(t *testing.T) {
	kinds := func(objs map[string]*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == kind {
				out = append(out, o)
			}
		}
		return out
	}
	def := byKey(t, helmTemplate(t))
	if n := len(kinds(def, "ServiceMonitor")) + len(kinds(def, "Namespace")); n != 0 {
		t.Errorf("the default values render %d ServiceMonitors and Namespaces, want none", n)
	}
	withAPIs := byKey(t, helmTemplate(t, "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
		"--api-versions", "monitoring.coreos.com/v1/PrometheusRule"))
	if n := len(kinds(withAPIs, "PrometheusRule")); n != 0 || !operatorMakesRules(t, withAPIs) {
		t.Errorf("the default values render %d PrometheusRules (want none: the operator creates them)", n)
	}
	crd := kinds(def, "CustomResourceDefinition")
	if len(crd) != 1 || crd[0].GetAnnotations()["helm.sh/resource-policy"] != "keep" {
		t.Errorf("want one CRD with helm.sh/resource-policy: keep, got %v", crd)
	}
	noMonitoring := byKey(t, helmTemplate(t, "-f", everythingOn))
	if n := len(kinds(noMonitoring, "ServiceMonitor")) + len(kinds(noMonitoring, "PrometheusRule")); n != 0 {
		t.Errorf("a ServiceMonitor or PrometheusRule is rendered although the API is not served")
	}
	noCRD := byKey(t, helmTemplate(t, "--set", "crd.enabled=false"))
	if n := len(kinds(noCRD, "CustomResourceDefinition")); n != 0 {
		t.Errorf("crd.enabled=false still renders the CRD")
	}

	k8s := byKey(t, helmTemplate(t, chartCases[1].args...))
	ocp := byKey(t, helmTemplate(t, chartCases[2].args...))
	for name, objs := range map[string]map[string]*unstructured.Unstructured{"Kubernetes": k8s, "OpenShift": ocp} {
		if len(kinds(objs, "ServiceMonitor")) != 1 || len(kinds(objs, "Namespace")) != 1 {
			t.Errorf("%s, everything on: want one ServiceMonitor and one Namespace", name)
		}
		rules := kinds(objs, "PrometheusRule")
		if len(rules) != 1 || rules[0].GetLabels()["release"] != "kube-prometheus-stack" {
			t.Errorf("%s, everything on: want one PrometheusRule labelled from prometheusRule.labels, got %v", name, rules)
		}
		if operatorMakesRules(t, objs) {
			t.Errorf("%s, everything on: the chart installs the alerts, but the operator is not run with --prometheus-rules=false", name)
		}
	}
	if got := kinds(k8s, "Namespace")[0].GetLabels()["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("Kubernetes: the namespace's enforce label is %q, want privileged", got)
	}
	for k := range kinds(ocp, "Namespace")[0].GetLabels() {
		if strings.HasPrefix(k, "pod-security.kubernetes.io/") {
			t.Errorf("OpenShift: the namespace has the label %s; the SCCs and OpenShift's label sync decide", k)
		}
	}
	runAsUser := func(objs map[string]*unstructured.Unstructured) bool {
		d := kinds(objs, "Deployment")[0]
		_, found, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template", "spec", "securityContext", "runAsUser")
		return found
	}
	if !runAsUser(k8s) || runAsUser(ocp) {
		t.Errorf("runAsUser from the values: kept on Kubernetes %v (want true), kept on OpenShift %v (want false)", runAsUser(k8s), runAsUser(ocp))
	}
}

// TestChartValuesSchema checks that values.schema.json is self-contained and
// refuses unknown keys at every level, and that helm enforces it.
func TestChartValuesSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(readFile(t, "dist/chart/values.schema.json"), &schema); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if ref, ok := s["$ref"]; ok {
			t.Errorf("%s: $ref %v: the schema must be self-contained", path, ref)
		}
		if props, ok := s["properties"].(map[string]any); ok {
			if s["additionalProperties"] != false {
				t.Errorf("%s: an object with properties must set additionalProperties: false", path)
			}
			for name, p := range props {
				if ps, ok := p.(map[string]any); ok {
					walk(path+"."+name, ps)
				}
			}
		}
		for _, k := range []string{"items", "additionalProperties"} {
			if sub, ok := s[k].(map[string]any); ok {
				walk(path+"."+k, sub)
			}
		}
	}
	walk("$", schema)

	for _, bad := range []string{"unknownKey=1", "manager.image.registry=x", "metrics.serviceMonitor.interval=30s", "platform=openshift4",
		"prometheusRule.interval=1m"} {
		if _, err := exe(t, helmEnv(t), nil, tool(t, "helm"), "template", packageName, "dist/chart", "--set", bad); err == nil {
			t.Errorf("helm template --set %s: accepted, want the schema to refuse it", bad)
		}
	}
}

// operatorMakesRules reports whether the rendered operator creates its own
// PrometheusRules (it is not run with --prometheus-rules=false).
func operatorMakesRules(t *testing.T, objs map[string]*unstructured.Unstructured) bool {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
			return !slices.Contains(args, "--prometheus-rules=false")
		}
	}
	t.Fatal("no operator Deployment rendered")
	return false
}

func byKey(t *testing.T, data []byte) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objects(t, data) {
		if _, dup := out[key(o)]; dup {
			t.Fatalf("%s twice", key(o))
		}
		out[key(o)] = o
	}
	return out
}

// helmLabels are the labels the chart adds besides config/'s.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}

// normalize drops what legitimately differs between Helm's and kustomize's
// renders, and goes through JSON so numbers compare alike.
func normalize(o *unstructured.Unstructured) *unstructured.Unstructured {
	c := o.DeepCopy()
	labels := c.GetLabels()
	for _, l := range helmLabels {
		delete(labels, l)
	}
	if len(labels) == 0 {
		labels = nil
	}
	c.SetLabels(labels)
	annotations := c.GetAnnotations()
	delete(annotations, "helm.sh/resource-policy")
	if len(annotations) == 0 {
		annotations = nil
	}
	c.SetAnnotations(annotations)
	data, _ := json.Marshal(c.Object)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return &unstructured.Unstructured{Object: m}
}
