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
	"github.com/onsi/gomega/gbytes"
	"k8s.io/apimachinery/pkg/util/wait"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
)

// The generators `make run` and `make deploy` run first (`manifests`,
// `generate`, `fmt`, `vet`) rewrite files in place; make verify checks them.
// Here they are marked up to date (make -o) so the test never edits the work
// tree it runs in: what is tested is each target's own recipe and `install`.
var skipGenerators = []string{"-o", "manifests", "-o", "generate", "-o", "fmt", "-o", "vet"}

// userCluster is a kwok cluster (real kube-apiserver, controller-manager and
// scheduler; simulated nodes and pods) with KubeVirt's CRDs, standing for a
// user's cluster; env points KUBECONFIG at it.
func userCluster(t *testing.T) (env []string, kubectl func(args ...string) string) {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(root, ".kwok"), "dist-make-")
	if err == nil {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	} else if err = os.MkdirAll(filepath.Join(root, ".kwok"), 0o755); err == nil {
		dir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "dist-make-")
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cluster, err := kwokcluster.Create(ctx, testenv.BinDir(), dir, "wol-"+filepath.Base(dir), kwokcluster.Options{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cluster.Delete(); err != nil {
			t.Errorf("deleting the kwok cluster: %v", err)
		}
	})
	env = []string{"KUBECONFIG=" + cluster.Kubeconfig}
	kubectl = func(args ...string) string { return mustExe(t, env, tool(t, "kubectl"), args...).stdout }
	crds, err := filepath.Glob(filepath.Join(testenv.KubeVirtCRDDir(), "*.json"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("no KubeVirt CRDs in %s (make kubevirt): %v", testenv.KubeVirtCRDDir(), err)
	}
	kubectl(append([]string{"apply", "--server-side"}, fileArgs(crds)...)...)
	return env, kubectl
}

func fileArgs(files []string) []string {
	args := make([]string, 0, 2*len(files))
	for _, f := range files {
		args = append(args, "-f", f)
	}
	return args
}

// eventually polls cond until it holds or a minute passes (a deadline, not
// a timing assertion: it only stops a test that would otherwise hang).
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	if err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true,
		func(context.Context) (ok bool, _ error) {
			ok, last = cond()
			return ok, nil
		}); err != nil {
		t.Fatalf("%s: still not so after a minute; last seen: %s", what, last)
	}
}

// TestMakeRun runs `make run` as a user does against the current
// kubeconfig's cluster, creates config/samples' WolConfig, and finds the
// listener Deployment the operator made, with IMG as its image, and the
// WolConfig Ready; Ctrl-C (SIGINT to make's process group) stops it.
func TestMakeRun(t *testing.T) {
	env, kubectl := userCluster(t)
	const img = "example.test/kubevirt-wol:make-run"

	cmd := exec.Command("make", append(skipGenerators, "run", "IMG="+img)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := gbytes.NewBuffer() // safe to read while make writes it
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// make exits non-zero when its recipe is interrupted, as after a
	// Ctrl-C: its exit status says nothing here.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("make run did not stop on SIGINT within a minute")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("make run printed:\n%s", string(out.Contents()))
		}
	})

	kubeContext := strings.TrimSpace(kubectl("config", "current-context"))
	said := regexp.MustCompile(`(?m)^>>> make run: context (\S+), namespace (\S+), listener image (\S+), `)
	eventually(t, "make run says what it uses", func() (bool, string) {
		m := said.FindStringSubmatch(string(out.Contents()))
		if m == nil {
			return false, string(out.Contents())
		}
		if got := fmt.Sprint(m[1:]); got != fmt.Sprint([]string{kubeContext, namespace, img}) {
			t.Fatalf("make run says it uses %s, want context %s, namespace %s, image %s", got, kubeContext, namespace, img)
		}
		return true, ""
	})
	eventually(t, "the operator starts", func() (bool, string) {
		return strings.Contains(string(out.Contents()), `"Starting workers"`), string(out.Contents())
	})
	if labels := kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.labels}"); !strings.Contains(labels, `"pod-security.kubernetes.io/enforce":"privileged"`) {
		t.Errorf("make run created namespace %s without config/'s Pod Security labels: %s", namespace, labels)
	}

	// The sample selects VMs in namespaces default and production.
	kubectl("create", "namespace", "production")
	kubectl("apply", "-k", filepath.Join(root, "config", "samples"))
	eventually(t, "the WolConfig is Ready", func() (bool, string) {
		s := kubectl("get", "wolconfig", "wol-config", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return s == "True", s
	})
	image := kubectl("-n", namespace, "get", "deployment", "wol-listener-wol-config", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if image != img {
		t.Errorf("the listener Deployment runs %q, want IMG %q", image, img)
	}

	stop()
	log := string(out.Contents())
	for _, want := range []string{`"msg":"Starting manager","namespace":"` + namespace + `"`, `"msg":"Successfully acquired lease"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the operator's log lacks %s", want)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		// A status write that lost a race with another is retried; that
		// is the only error a clean run may log.
		if strings.Contains(line, `"level":"error"`) && !strings.Contains(line, "the object has been modified") {
			t.Errorf("the operator logged an error: %s", line)
		}
	}
}

// TestMakeDeploy runs `make deploy` with an IMG of its own against the
// current kubeconfig's cluster: the operator's Deployment (and the listener
// image it is told) is IMG, config/ is left as it was (git status), and
// `make undeploy` removes the operator and its namespace.
func TestMakeDeploy(t *testing.T) {
	env, kubectl := userCluster(t)
	const img = "example.test/kubevirt-wol:make-deploy"
	status := func() string {
		return mustExe(t, nil, "git", "status", "--porcelain", "--", "config").stdout
	}
	before := status()

	mustExe(t, env, "make", "-o", "manifests", "deploy", "IMG="+img)
	if after := status(); after != before {
		t.Errorf("make deploy changed config/: git status was\n%s\nand is\n%s", before, after)
	}
	const deployment = "kubevirt-wol-controller-manager"
	got := kubectl("-n", namespace, "get", "deployment", deployment, "-o",
		`jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[?(@.name=="RELATED_IMAGE_LISTENER")].value}`)
	if got != img+" "+img {
		t.Errorf("the operator's image and listener image are %q, want IMG %q for both", got, img)
	}
	eventually(t, "the operator's pod is scheduled and running (kwok)", func() (bool, string) {
		s := kubectl("-n", namespace, "get", "pods", "-l", "control-plane=controller-manager", "-o", "jsonpath={.items[*].status.phase}")
		return s == "Running", s
	})

	mustExe(t, env, "make", "undeploy", "IMG="+img)
	if after := status(); after != before {
		t.Errorf("make undeploy changed config/: git status was\n%s\nand is\n%s", before, after)
	}
	eventually(t, "make undeploy removes the namespace", func() (bool, string) {
		s := kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}")
		return !strings.Contains(" "+s+" ", " "+namespace+" "), s
	})
	if crds := kubectl("get", "crd", "-o", "name"); strings.Contains(crds, "wolconfigs.wol.pillon.org") {
		t.Error("make undeploy left the WolConfig CRD")
	}
}
