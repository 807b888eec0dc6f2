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

package main

import (
	"strings"
	"testing"
)

const input = `apiVersion: v1
kind: Namespace
metadata:
  labels:
    app.kubernetes.io/managed-by: kustomize
    pod-security.kubernetes.io/enforce: privileged
  name: kubevirt-wol-system
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubevirt-wol-controller-manager
  namespace: kubevirt-wol-system
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: manager
        image: example.com/op:v1.2.3
        args: [--metrics-bind-address=:8443, --leader-elect, --other]
        env:
        - name: RELATED_IMAGE_LISTENER
          value: example.com/op:v1.2.3
        resources:
          limits: {memory: 1Gi}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubevirt-wol-manager-rolebinding
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubevirt-wol-manager-role}
subjects:
- {kind: ServiceAccount, name: kubevirt-wol-controller-manager, namespace: kubevirt-wol-system}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: kubevirt-wol-listener-alerts
  namespace: kubevirt-wol-system
spec:
  groups:
  - name: g
    rules:
    - alert: A
      annotations: {description: 'job {{ $labels.job }} is {{ if eq $labels.reason "x" }}x{{ end }}'}
      expr: up{job=~"wol-listener-.+"} == 0
`

func generate(t *testing.T, in string) (map[string]string, error) {
	t.Helper()
	objs, err := readObjects(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return Generate(objs, "1.2.3")
}

func TestGenerate(t *testing.T) {
	files, err := generate(t, input)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"templates/manager/manager.yaml": {
			"namespace: {{ .Release.Namespace }}",
			"replicas: {{ .Values.manager.replicas }}",
			`image: {{ include "kubevirt-wol.managerImage" . | quote }}`,
			"        - --leader-elect=false",
			"        - --metrics-bind-address=0",
			"        - --other",
			"        {{- if .Values.prometheusRule.enabled }}\n        - --prometheus-rules=false\n        {{- end }}",
			"          {{- toYaml .Values.manager.resources | nindent 10 }}",
		},
		"templates/namespace/namespace.yaml":      {"{{- if .Values.namespace.create }}", "pod-security.kubernetes.io/{{ $mode }}: {{ $level }}", "helm.sh/resource-policy: keep"},
		"templates/rbac/manager-rolebinding.yaml": {"  namespace: {{ .Release.Namespace }}"},
		"templates/prometheus/listener-alerts.yaml": {
			`{{- if and .Values.prometheusRule.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule") }}`,
			"{{- with .Values.prometheusRule.labels }}",
			// Prometheus' templates are printed, not evaluated by Helm.
			`job {{"{{"}} $labels.job {{"}}"}} is {{"{{"}} if eq $labels.reason`, `{{"}}"}}x{{"{{"}} end {{"}}"}}`,
			`up{job=~"wol-listener-.+"} == 0`,
		},
		"values.yaml": {"repository: example.com/op", "tag: v1.2.3", "memory: 1Gi", "enforce: privileged"},
		"Chart.yaml":  {"version: 1.2.3", `appVersion: "1.2.3"`},
	} {
		for _, w := range want {
			if !strings.Contains(files[path], w) {
				t.Errorf("%s lacks %q:\n%s", path, w, files[path])
			}
		}
		if strings.Contains(files[path], "managed-by: kustomize") {
			t.Errorf("%s keeps kustomize's managed-by label", path)
		}
	}
}

func TestGenerateRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"unknown kind":          input + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubevirt-wol-x, namespace: kubevirt-wol-system}\n",
		"namespace left":        input + "---\napiVersion: v1\nkind: Service\nmetadata: {name: kubevirt-wol-x, namespace: kubevirt-wol-system}\nspec: {externalName: a.kubevirt-wol-system.svc}\n",
		"no leader election":    strings.Replace(input, "--leader-elect, ", "", 1),
		"no related image":      strings.Replace(input, "RELATED_IMAGE_LISTENER", "OTHER", 1),
		"image without a tag":   strings.Replace(input, "image: example.com/op:v1.2.3", "image: example.com/op", 1),
		"no namespace to place": strings.Replace(input, "kind: Namespace", "kind: ServiceAccount", 1),
	} {
		if _, err := generate(t, in); err == nil {
			t.Errorf("%s: Generate succeeded, want an error", name)
		}
	}
}
