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
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

func (g *generator) valuesYAML() (string, error) {
	d := g.defaults
	block := func(v any, indent int) (string, error) {
		data, err := yaml.Marshal(v)
		if err != nil {
			return "", err
		}
		s := strings.TrimSuffix(string(data), "\n")
		if s == "{}" || s == "[]" {
			return " " + s, nil
		}
		pad := strings.Repeat(" ", indent)
		return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
	}
	modes := make([]string, 0, len(d.PodSecurity))
	for m := range d.PodSecurity {
		modes = append(modes, m)
	}
	slices.Sort(modes)
	var psa strings.Builder
	for _, m := range modes {
		fmt.Fprintf(&psa, "\n    %s: %s", m, d.PodSecurity[m])
	}
	fields := map[string]any{
		"resources":          d.Resources,
		"podSecurityContext": d.PodSecurityContext,
		"securityContext":    d.SecurityContext,
		"affinity":           d.Affinity,
		"nodeSelector":       d.NodeSelector,
		"tolerations":        d.Tolerations,
	}
	rendered := map[string]string{}
	for k, v := range fields {
		s, err := block(v, 4)
		if err != nil {
			return "", err
		}
		rendered[k] = s
	}
	if psa.Len() == 0 {
		psa.WriteString(" {}")
	}
	return fmt.Sprintf(valuesTemplate,
		d.Repository, d.Tag, d.Replicas,
		rendered["resources"], rendered["podSecurityContext"], rendered["securityContext"],
		rendered["nodeSelector"], rendered["tolerations"], rendered["affinity"],
		psa.String()), nil
}
