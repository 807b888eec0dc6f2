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
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Generate returns the chart's files by path for the objects kustomize built.
func Generate(objs []object, version string) (map[string]string, error) {
	g := &generator{files: map[string]string{}}
	for _, o := range objs {
		if kind(o) == "Namespace" {
			g.namespace = name(o)
			g.namespaceObj = o
		}
	}
	if g.namespace == "" {
		return nil, errors.New("the kustomize output has no Namespace")
	}
	for _, o := range objs {
		if kind(o) == "Deployment" && name(o) == namePrefix+"controller-manager" {
			if err := g.readDefaults(o); err != nil {
				return nil, err
			}
		}
	}
	if g.defaults == nil {
		return nil, errors.New("the kustomize output has no operator Deployment")
	}
	for _, o := range objs {
		k, n := kind(o), name(o)
		if err := g.add(o); err != nil {
			return nil, fmt.Errorf("%s %s: %w", k, n, err)
		}
	}
	g.files["Chart.yaml"] = chartYAML(version)
	g.files[".helmignore"] = helmignore
	g.files["templates/_helpers.tpl"] = helpers
	g.files["templates/NOTES.txt"] = notes
	g.files["README.md"] = readme
	values, err := g.valuesYAML()
	if err != nil {
		return nil, err
	}
	g.files["values.yaml"] = values
	schema, err := json.MarshalIndent(valuesSchema(), "", "  ")
	if err != nil {
		return nil, err
	}
	g.files["values.schema.json"] = string(schema) + "\n"
	for path, content := range g.files {
		if strings.HasPrefix(path, "templates/") && strings.Contains(content, g.namespace) {
			return nil, fmt.Errorf("%s still names the namespace %q: template it", path, g.namespace)
		}
		if strings.Contains(content, placeholderPrefix) {
			return nil, fmt.Errorf("%s has a placeholder left", path)
		}
	}
	return g.files, nil
}

type generator struct {
	namespace    string
	namespaceObj object
	defaults     *defaults
	files        map[string]string
}

// defaults are the values.yaml defaults read from config/.
type defaults struct {
	Repository         string
	Tag                string
	Replicas           any
	Resources          any
	PodSecurityContext any
	SecurityContext    any
	Affinity           any
	NodeSelector       any
	Tolerations        any
	PodSecurity        map[string]string
}

func (g *generator) readDefaults(dep object) error {
	c, err := managerContainer(dep)
	if err != nil {
		return err
	}
	image, _ := c["image"].(string)
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") || strings.Contains(image, "@") {
		return fmt.Errorf("manager image %q is not repository:tag", image)
	}
	pod := dig(dep, "spec", "template", "spec")
	d := &defaults{
		Repository:         image[:i],
		Tag:                image[i+1:],
		Replicas:           dig(dep, "spec")["replicas"],
		Resources:          orEmpty(c["resources"]),
		PodSecurityContext: orEmpty(pod["securityContext"]),
		SecurityContext:    orEmpty(c["securityContext"]),
		Affinity:           orEmpty(pod["affinity"]),
		NodeSelector:       orEmpty(pod["nodeSelector"]),
		Tolerations:        pod["tolerations"],
		PodSecurity:        map[string]string{},
	}
	if d.Replicas == nil {
		d.Replicas = 1
	}
	if d.Tolerations == nil {
		d.Tolerations = []any{}
	}
	for k, v := range labels(g.namespaceObj) {
		if mode, ok := strings.CutPrefix(k, psaLabelStart); ok {
			d.PodSecurity[mode] = fmt.Sprint(v)
		}
	}
	g.defaults = d
	return nil
}

func (g *generator) add(o object) error {
	escapeTemplates(o)
	p := newPlaceholders()
	meta := dig(o, "metadata")
	short := strings.TrimPrefix(name(o), namePrefix)
	if _, ok := meta["namespace"]; ok {
		meta["namespace"] = p.inline(`{{ .Release.Namespace }}`)
	}
	lbls := labels(o)
	delete(lbls, "app.kubernetes.io/managed-by")
	lbls[p.block(func(indent, _ string) string {
		return fmt.Sprintf(`%s{{- include "kubevirt-wol.labels" . | nindent %d }}`, indent, len(indent))
	})] = ""
	meta["labels"] = lbls

	var path, cond string
	switch kind(o) {
	case "Namespace":
		path = "templates/namespace/namespace.yaml"
		cond = ".Values.namespace.create"
		meta["name"] = p.inline(`{{ .Release.Namespace }}`)
		for k := range lbls {
			if strings.HasPrefix(k, psaLabelStart) {
				delete(lbls, k)
			}
		}
		lbls[p.block(func(indent, _ string) string {
			return indent + `{{- if ne (include "kubevirt-wol.openshift" .) "true" }}` + "\n" +
				indent + `{{- range $mode, $level := .Values.namespace.podSecurity }}` + "\n" +
				indent + `pod-security.kubernetes.io/{{ $mode }}: {{ $level }}` + "\n" +
				indent + `{{- end }}` + "\n" +
				indent + `{{- end }}`
		})] = ""
		// Uninstalling must not delete the namespace that holds the release.
		annotations(o)["helm.sh/resource-policy"] = "keep"
	case "CustomResourceDefinition":
		spec := dig(o, "spec")
		group, _ := spec["group"].(string)
		plural, _ := dig(spec, "names")["plural"].(string)
		path = fmt.Sprintf("templates/crd/%s_%s.yaml", group, plural)
		cond = ".Values.crd.enabled"
		annotations(o)[p.block(func(indent, _ string) string {
			return indent + "{{- if .Values.crd.keep }}\n" + indent + "helm.sh/resource-policy: keep\n" + indent + "{{- end }}"
		})] = ""
	case "ServiceAccount", "Role", "RoleBinding", "ClusterRoleBinding":
		path = "templates/rbac/" + short + ".yaml"
	case "ClusterRole":
		path = "templates/rbac/" + short + ".yaml"
		if strings.HasPrefix(short, "wolconfig-") {
			cond = ".Values.rbac.helpers.enabled"
		}
	case "Service":
		path = "templates/metrics/" + short + ".yaml"
		cond = ".Values.metrics.enabled"
	case "ServiceMonitor":
		path = "templates/prometheus/" + short + ".yaml"
		cond = "and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled " +
			`(.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")`
	case "PrometheusRule":
		path = "templates/prometheus/" + short + ".yaml"
		cond = "and .Values.prometheusRule.enabled " +
			`(.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PrometheusRule")`
		lbls[p.block(withMap(".Values.prometheusRule.labels"))] = ""
	case "NetworkPolicy":
		path = "templates/network-policy/" + short + ".yaml"
		cond = ".Values.networkPolicy.enabled"
	case "Deployment":
		if short != "controller-manager" {
			return errors.New("unknown Deployment")
		}
		path = "templates/manager/manager.yaml"
		if err := templateDeployment(o, p); err != nil {
			return err
		}
	default:
		return errors.New("the chart generator does not know this kind: place it in hack/dist/chartgen")
	}
	for _, s := range subjects(o) {
		if s["namespace"] == g.namespace {
			s["namespace"] = p.inline(`{{ .Release.Namespace }}`)
		}
	}
	if _, dup := g.files[path]; dup {
		return fmt.Errorf("two objects map to %s", path)
	}
	body, err := p.render(o)
	if err != nil {
		return err
	}
	if cond != "" {
		body = "{{- if " + cond + " }}\n" + body + "{{- end }}\n"
	}
	g.files[path] = body
	return nil
}

// helmAction is a Go template action in a string of config/ (a
// PrometheusRule's annotations hold Prometheus' own templates).
var helmAction = regexp.MustCompile(`{{.*?}}`)

// escapeTemplates makes Helm print every template action found in the
// object's strings as it is, instead of evaluating it: {{ x }} becomes
// {{"{{"}} x {{"}}"}}, whose actions have no space where YAML could fold a
// long line.
func escapeTemplates(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok {
				t[k] = escapeString(s)
			} else {
				escapeTemplates(e)
			}
		}
	case []any:
		for i, e := range t {
			if s, ok := e.(string); ok {
				t[i] = escapeString(s)
			} else {
				escapeTemplates(e)
			}
		}
	}
}

func escapeString(s string) string {
	return helmAction.ReplaceAllStringFunc(s, func(action string) string {
		return `{{"{{"}}` + action[2:len(action)-2] + `{{"}}"}}`
	})
}
