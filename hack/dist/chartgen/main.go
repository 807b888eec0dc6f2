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

// Command chartgen writes the Helm chart (dist/chart, kubebuilder's layout)
// from the objects kustomize builds from config/ (`make chart` pipes
// `kustomize build hack/chart` into it). Every object becomes a template with
// the release namespace, Helm's labels and the values users may change; the
// defaults in values.yaml are taken from the same objects, so
// `helm template` with the default values gives what `kustomize build
// config/default` gives (the distribution tests check it).
//
// It refuses kinds it does not know, so a new object in config/ makes
// `make chart` fail until the generator places it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	chartName = "kubevirt-wol"
	// namePrefix is config/default's namePrefix: chart object names keep it.
	namePrefix    = chartName + "-"
	managerName   = "manager"
	psaLabelStart = "pod-security.kubernetes.io/"
)

type object = map[string]any

func main() {
	var (
		in      = flag.String("in", "-", "kustomize output to read (- for stdin)")
		out     = flag.String("out", "dist/chart", "chart folder to write (replaced)")
		version = flag.String("version", "", "chart version and appVersion")
	)
	flag.Parse()
	if err := run(*in, *out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "chartgen:", err)
		os.Exit(1)
	}
}

func run(in, out, version string) error {
	if version == "" {
		return errors.New("-version is required")
	}
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	objs, err := readObjects(r)
	if err != nil {
		return err
	}
	files, err := Generate(objs, version)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func readObjects(r io.Reader) ([]object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objs []object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, err
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

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
		cond = `and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")`
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
	items = append(items, p.block(listItems("{{- range .Values.manager.extraArgs }}", "- {{ . | quote }}", "{{- end }}")))
	c["args"] = items
	return nil
}

// listItems stands for template lines in place of one list item.
func listItems(lines ...string) func(indent, key string) string {
	return func(indent, _ string) string {
		return indent + strings.Join(lines, "\n"+indent)
	}
}

func withMap(expr string) func(indent, key string) string {
	return func(indent, _ string) string {
		return fmt.Sprintf("%s{{- with %s }}\n%s{{- toYaml . | nindent %d }}\n%s{{- end }}", indent, expr, indent, len(indent), indent)
	}
}

func withValue(expr string) func(indent, key string) string {
	return func(indent, key string) string {
		return fmt.Sprintf("%s{{- with %s }}\n%s%s:\n%s  {{- toYaml . | nindent %d }}\n%s{{- end }}", indent, expr, indent, key, indent, len(indent)+2, indent)
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
%s  {{- include "kubevirt-wol.securityContext" (dict "root" . "context" %s) | nindent %d }}`, indent, key, indent, expr, len(indent)+2)
	}
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

func subjects(o object) []object {
	list, _ := o["subjects"].([]any)
	var out []object
	for _, s := range list {
		if so, ok := s.(object); ok {
			out = append(out, so)
		}
	}
	return out
}

func kind(o object) string { s, _ := o["kind"].(string); return s }

func name(o object) string { s, _ := dig(o, "metadata")["name"].(string); return s }

// dig returns the map at path, creating the maps that are missing.
func dig(o object, path ...string) object {
	cur := o
	for _, k := range path {
		next, ok := cur[k].(object)
		if !ok {
			next = object{}
			cur[k] = next
		}
		cur = next
	}
	return cur
}

func labels(o object) object      { return dig(o, "metadata", "labels") }
func annotations(o object) object { return dig(o, "metadata", "annotations") }

func orEmpty(v any) any {
	if v == nil {
		return object{}
	}
	return v
}

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

var blockLine = regexp.MustCompile(`^(\s*)(?:- (` + placeholderPrefix + `\d+)|([^\s:][^:]*): (` + placeholderPrefix + `\d+)|(` + placeholderPrefix + `\d+): (?:""|''))$`)

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
