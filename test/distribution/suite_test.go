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

// Package distribution checks what users install: the OLM bundle and the
// file-based catalog (with operator-sdk and opm), the Helm chart (helm lint,
// and its agreement with config/), dist/install.yaml, config/default and the
// samples. Every manifest is applied with a server-side dry run to a real
// kube-apiserver that serves the project's CRD, KubeVirt's, OpenShift's
// SecurityContextConstraints and the Prometheus Operator's ServiceMonitor.
// Nothing is downloaded: the tools are the ones `make test-dist` builds into
// bin/, and a missing tool fails the suite.
package distribution

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

const (
	// packageName is the OLM package and the chart's name.
	packageName = "kubevirt-wol"
	// namespace is config/default's namespace.
	namespace = "kubevirt-wol-system"
	// kubeVersion is what helm renders and lints for.
	kubeVersion = "v1.37.0"
)

var (
	root = testenv.RepoRoot()
	// version and imageBase are the Makefile's VERSION and IMAGE_TAG_BASE;
	// operatorImage, bundleImage and catalogImage its default IMG,
	// BUNDLE_IMG and CATALOG_IMG.
	version, imageBase                       string
	operatorImage, bundleImage, catalogImage string

	env        *envtest.Environment
	adminCfg   *rest.Config
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// makeVariable reads a `NAME ?= value` default from the Makefile.
func makeVariable(makefile []byte, name string) (string, error) {
	m := regexp.MustCompile(`(?m)^` + name + ` \?= (\S+)\s*$`).FindSubmatch(makefile)
	if m == nil {
		return "", fmt.Errorf("no %s ?= ... in the Makefile", name)
	}
	return string(m[1]), nil
}

func run(m *testing.M) int {
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err == nil {
		version, err = makeVariable(makefile, "VERSION")
	}
	if err == nil {
		imageBase, err = makeVariable(makefile, "IMAGE_TAG_BASE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "distribution:", err)
		return 1
	}
	operatorImage = imageBase + ":v" + version
	bundleImage = imageBase + "-bundle:v" + version
	catalogImage = imageBase + "-catalog:v" + version

	env, adminCfg, err = testenv.Start(testenv.Options{OpenShift: true, Monitoring: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "distribution:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	user, err := env.AddUser(envtest.User{Name: "dist-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "distribution: adding a user:", err)
		return 1
	}
	data, err := user.KubeConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "distribution: writing a kubeconfig:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubevirt-wol-dist-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "distribution:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "distribution:", err)
		return 1
	}
	return m.Run()
}

// tool returns the path of a tool in bin/, failing the test when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(testenv.BinDir(), name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing from bin/: run `make test-dist`, which builds it (%v)", name, err)
	}
	return path
}

// result is what a command printed.
type result struct {
	stdout, stderr string
}

// exe runs a command from the repository root with extra environment
// variables and returns its output, or an error that includes it.
func exe(t *testing.T, envs []string, stdin []byte, name string, args ...string) (result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), envs...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, r.stdout, r.stderr)
	}
	return r, nil
}

// mustExe is exe, without input, that fails the test on an error.
func mustExe(t *testing.T, envs []string, name string, args ...string) result {
	t.Helper()
	r, err := exe(t, envs, nil, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// objects splits a YAML stream into objects.
func objects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("reading YAML: %v", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("parsing YAML: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
