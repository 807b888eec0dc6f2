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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

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
