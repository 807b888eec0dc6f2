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
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// placeholderPrefix starts the plain YAML scalars the generator puts where
// template text goes, to be replaced after the object is marshalled.
const placeholderPrefix = "HELMPLACEHOLDER"

type placeholders struct {
	n       int
	inlines map[string]string
	blocks  map[string]func(indent, key string) string
}

func newPlaceholders() *placeholders {
	return &placeholders{inlines: map[string]string{}, blocks: map[string]func(string, string) string{}}
}

func (p *placeholders) next() string {
	p.n++
	return fmt.Sprintf("%s%03d", placeholderPrefix, p.n)
}

// inline stands for a template expression that replaces a scalar value.
func (p *placeholders) inline(expr string) string {
	t := p.next()
	p.inlines[t] = expr
	return t
}

// block stands for template lines that replace the whole line it ends up
// on: "key: <placeholder>" (fn gets the key), "- <placeholder>" as a list
// item, or a map key with an empty value (fn gets "").
func (p *placeholders) block(fn func(indent, key string) string) string {
	t := p.next()
	p.blocks[t] = fn
	return t
}

// blockLine is a line with a block placeholder (see block): a list item, a
// key's value, or a map key with an empty value.
var blockLine = regexp.MustCompile(`^(\s*)(?:` +
	`- (` + placeholderPrefix + `\d+)` +
	`|([^\s:][^:]*): (` + placeholderPrefix + `\d+)` +
	`|(` + placeholderPrefix + `\d+): (?:""|'')` +
	`)$`)

func (p *placeholders) render(o object) (string, error) {
	data, err := yaml.Marshal(o)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if m := blockLine.FindStringSubmatch(line); m != nil {
			indent, token, key := m[1], m[2], ""
			switch {
			case m[4] != "":
				token, key = m[4], m[3]
			case m[5] != "":
				token = m[5]
			}
			if fn, ok := p.blocks[token]; ok {
				if strings.HasPrefix(key, "- ") {
					return "", fmt.Errorf("placeholder %s is the first key of a list item: template another key", token)
				}
				out.WriteString(fn(indent, key) + "\n")
				continue
			}
		}
		for token, expr := range p.inlines {
			line = strings.ReplaceAll(line, token, expr)
		}
		out.WriteString(line + "\n")
	}
	return out.String(), nil
}

// listItems stands for template lines in place of one list item.
func listItems(lines ...string) func(indent, key string) string {
	return func(indent, _ string) string {
		return indent + strings.Join(lines, "\n"+indent)
	}
}

func withMap(expr string) func(indent, key string) string {
	return func(indent, _ string) string {
		return fmt.Sprintf("%s{{- with %s }}\n%s{{- toYaml . | nindent %d }}\n%s{{- end }}",
			indent, expr, indent, len(indent), indent)
	}
}

func withValue(expr string) func(indent, key string) string {
	return func(indent, key string) string {
		return fmt.Sprintf("%s{{- with %s }}\n%s%s:\n%s  {{- toYaml . | nindent %d }}\n%s{{- end }}",
			indent, expr, indent, key, indent, len(indent)+2, indent)
	}
}

func toYAMLValue(expr string) func(indent, key string) string {
	return func(indent, key string) string {
		return fmt.Sprintf("%s%s:\n%s  {{- toYaml %s | nindent %d }}", indent, key, indent, expr, len(indent)+2)
	}
}

func securityContext(expr string) func(indent, key string) string {
	return func(indent, key string) string {
		return fmt.Sprintf(`%s%s:
%s  {{- include "kubevirt-wol.securityContext" (dict "root" . "context" %s) | nindent %d }}`,
			indent, key, indent, expr, len(indent)+2)
	}
}
