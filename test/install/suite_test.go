//go:build install

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

// Package install installs and upgrades kubevirt-wol the way users do, on
// the kwok cluster of the e2e suite (real etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler; simulated nodes and pods) with
// real KubeVirt: through a real OLM (catalog → Subscription → InstallPlan →
// CSV → Deployment, then an upgrade along the channel), with real Helm and
// with kubectl. Whatever an installation creates, the operator then runs
// from it: bin/manager as a local process with the arguments, environment
// and ServiceAccount of the pod the cluster scheduled for its Deployment.
// `make test-install` builds everything it needs.
package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
)

const (
	packageName = "kubevirt-wol"
	fieldOwner  = "kubevirt-wol-install-test"
	timeout     = 3 * time.Minute
)

var (
	root = testenv.RepoRoot()
	bin  = testenv.BinDir()
	// version and imageBase are the Makefile's VERSION and IMAGE_TAG_BASE.
	version, imageBase string
	workdir            string
	// stk is the cluster of the running test (startStack).
	stk *stack.Stack
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		return 1
	}
	for name, dst := range map[string]*string{"VERSION": &version, "IMAGE_TAG_BASE": &imageBase} {
		m := regexp.MustCompile(`(?m)^` + name + ` \?= (\S+)\s*$`).FindSubmatch(makefile)
		if m == nil {
			fmt.Fprintf(os.Stderr, "install: no %s ?= ... in the Makefile\n", name)
			return 1
		}
		*dst = string(m[1])
	}
	for _, b := range []string{"manager", "listener", "kustomize", "opm", "helm", "kubectl", "olm/olm", "olm/catalog"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			fmt.Fprintf(os.Stderr, "install: bin/%s is missing: run `make test-install`\n", b)
			return 1
		}
	}
	if err := os.MkdirAll(filepath.Join(root, ".kwok"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		return 1
	}
	if workdir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "install-"); err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		_ = os.RemoveAll(workdir)
	} else {
		fmt.Fprintln(os.Stderr, "install: logs and cluster state kept in", workdir)
	}
	return code
}

// startStack starts a kwok cluster with two simulated nodes and real
// KubeVirt for the test, stopped when it ends, and makes it stk.
func startStack(t *testing.T, name string) {
	t.Helper()
	dir := filepath.Join(workdir, name)
	s, err := stack.New(stack.Options{Dir: dir, Name: "wol-" + name + "-" + filepath.Base(workdir)[8:], Nodes: 2, FieldOwner: fieldOwner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
		if t.Failed() && s.Operator != nil {
			t.Logf("===== operator\n%s", tail(s.Operator.Output(), 120))
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if err := s.StartCluster(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.StartKubeVirt(ctx); err != nil {
		t.Fatal(err)
	}
	stk = s
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// exe runs a command from the repository root and returns its output, or
// an error that includes it.
func exe(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// mustExe is exe failing the test on an error.
func mustExe(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exe(t.Context(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond until it holds, failing the test with the last
// reason it gave after timeout.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, why, err := cond(ctx)
		last = why
		return ok, err
	})
	if err != nil {
		t.Fatalf("%s: %v (last seen: %s)", what, err, last)
	}
}
