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
	"errors"
	"fmt"
	"strings"
)

// templateDeployment puts the values users may change into the operator's
// Deployment.
func templateDeployment(dep object, p *placeholders) error {
	spec := dig(dep, "spec")
	spec["replicas"] = p.inline(`{{ .Values.manager.replicas }}`)
	tmpl := dig(spec, "template")
	tmeta := dig(tmpl, "metadata")
	tann := annotations(tmpl)
	tann[p.block(withMap(".Values.manager.podAnnotations"))] = ""
	tlabels := labels(tmpl)
	tlabels[p.block(withMap(".Values.manager.podLabels"))] = ""
	tmeta["labels"] = tlabels

	pod := dig(tmpl, "spec")
	pod["affinity"] = p.block(withValue(".Values.manager.affinity"))
	pod["nodeSelector"] = p.block(withValue(".Values.manager.nodeSelector"))
	pod["tolerations"] = p.block(withValue(".Values.manager.tolerations"))
	pod["imagePullSecrets"] = p.block(withValue(".Values.manager.imagePullSecrets"))
	pod["priorityClassName"] = p.block(func(indent, key string) string {
		return indent + "{{- with .Values.manager.priorityClassName }}\n" +
			indent + key + ": {{ . | quote }}\n" + indent + "{{- end }}"
	})
	pod["securityContext"] = p.block(securityContext(".Values.manager.podSecurityContext"))

	c, err := managerContainer(dep)
	if err != nil {
		return err
	}
	c["image"] = p.inline(`{{ include "kubevirt-wol.managerImage" . | quote }}`)
	c["imagePullPolicy"] = p.block(func(indent, key string) string {
		return indent + "{{- with .Values.manager.image.pullPolicy }}\n" +
			indent + key + ": {{ . }}\n" + indent + "{{- end }}"
	})
	c["resources"] = p.block(toYAMLValue(".Values.manager.resources"))
	c["securityContext"] = p.block(securityContext(".Values.manager.securityContext"))

	envs, _ := c["env"].([]any)
	related := false
	for _, e := range envs {
		if env, ok := e.(object); ok && env["name"] == "RELATED_IMAGE_LISTENER" {
			env["value"] = p.inline(`{{ include "kubevirt-wol.listenerImage" . | quote }}`)
			related = true
		}
	}
	if !related {
		return errors.New("the manager container has no RELATED_IMAGE_LISTENER")
	}

	args, _ := c["args"].([]any)
	var sawLeader, sawMetrics bool
	items := make([]any, 0, len(args)+1)
	for _, a := range args {
		arg := fmt.Sprint(a)
		switch {
		case arg == "--leader-elect":
			sawLeader = true
			items = append(items, p.block(listItems(
				"{{- if .Values.manager.leaderElection.enabled }}", "- --leader-elect",
				"{{- else }}", "- --leader-elect=false", "{{- end }}")))
		case strings.HasPrefix(arg, "--metrics-bind-address="):
			sawMetrics = true
			items = append(items, p.block(listItems(
				"{{- if .Values.metrics.enabled }}", "- "+arg,
				"{{- else }}", "- --metrics-bind-address=0", "{{- end }}")))
		default:
			items = append(items, arg)
		}
	}
	if !sawLeader || !sawMetrics {
		return errors.New("the manager's args lack --leader-elect or --metrics-bind-address")
	}
	// The chart's PrometheusRule replaces the operator's own (one per
	// WolConfig): never both.
	items = append(items, p.block(listItems(
		"{{- if .Values.prometheusRule.enabled }}", "- --prometheus-rules=false", "{{- end }}")))
	items = append(items, p.block(listItems("{{- range .Values.manager.extraArgs }}", "- {{ . | quote }}", "{{- end }}")))
	c["args"] = items
	return nil
}

func managerContainer(dep object) (object, error) {
	containers, _ := dig(dep, "spec", "template", "spec")["containers"].([]any)
	for _, c := range containers {
		if co, ok := c.(object); ok && co["name"] == managerName {
			return co, nil
		}
	}
	return nil, errors.New("the operator Deployment has no manager container")
}
