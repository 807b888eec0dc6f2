//go:build e2e

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

// Package demo runs `make demo`'s program as the README's first command
// does, as root with a real node: it must wake the sample VM through the
// listener's real pod, leave everything running for the user to try more,
// and `make demo-down` must then leave nothing on the machine.
package demo

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
)

func TestDemoWithARealNode(t *testing.T) {
	if msg, skip := netlab.Unavailable("the demo test", "wakeonlan"); skip {
		t.Skip(msg)
	} else if msg != "" {
		t.Fatal(msg)
	}
	for _, v := range []string{"IMAGE_TAR", "PAUSE_IMAGE_TAR", "PAUSE_IMAGE"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is not set: run `make test-e2e`", v)
		}
	}
	root := testenv.RepoRoot()
	stateFile := filepath.Join(root, ".demo", "state.json")
	if _, err := os.Stat(stateFile); err == nil {
		t.Fatalf("a demo is running (%s): stop it with `make demo-down` before this test", stateFile)
	}
	demo := filepath.Join(t.TempDir(), "demo")
	if out, err := exec.Command("go", "build", "-o", demo, filepath.Join(root, "hack", "demo")).CombinedOutput(); err != nil {
		t.Fatalf("building hack/demo: %v\n%s", err, out)
	}
	run := func(arg string) (string, error) {
		cmd := exec.Command(demo, arg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			out, err := run("down")
			t.Logf("demo down: %v\n%s", err, out)
		}
	})

	start := time.Now()
	out, err := run("up")
	t.Logf("demo up (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("demo up: %v", err)
	}
	for _, want := range []string{
		"real node wol-node Ready: kubelet and kube-proxy v",
		"Running on wol-node: image ",
		"runs on wol-node as a REAL hostNetwork container, Ready through the kubelet's HTTPS readiness probe",
		"capabilities drop [ALL] add [NET_BIND_SERVICE], read-only root filesystem true, no privilege escalation, seccomp RuntimeDefault",
		`"msg":"VM started","vm":{"name":"fedora-desktop","namespace":"default"}`,
		"real virt-api set VM default/fedora-desktop's runStrategy Halted -> Always",
		"received by the listener on node wol-node, through KubeVirt's start subresource",
		"/metrics without a token: HTTP 401",
		"/metrics with a metrics-reader ServiceAccount token: HTTP 200",
		`wol_vm_started_total{path="subresource"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo up did not print %q", want)
		}
	}

	// The demo keeps running after `demo up` has ended: the hint it prints
	// wakes another VM through the listener's pod.
	hint := regexp.MustCompile(`sudo (ip netns exec \S+ wakeonlan -i \S+ 52:54:00:ab:cd:01)`).FindStringSubmatch(out)
	if hint == nil {
		t.Fatal("demo up printed no wakeonlan hint for production/db-replica")
	}
	kubectl := func(args ...string) string {
		cmd := exec.Command(filepath.Join(testenv.BinDir(), "kubectl"), append([]string{"--kubeconfig",
			filepath.Join(root, ".demo", "kwok", "wol-demo.kubeconfig")}, args...)...)
		b, _ := cmd.CombinedOutput()
		return string(b)
	}
	if b, err := exec.Command("sh", "-c", hint[1]).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", hint[1], err, b)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return kubectl("get", "vm", "-n", "production", "db-replica", "-o", "jsonpath={.spec.runStrategy}") == "Always", nil
	}); err != nil {
		t.Fatalf("production/db-replica was not started by the hint's packet: %v\n%s", err, kubectl("get", "vm,pods", "-A", "-o", "wide"))
	}

	data, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PIDs       []int    `json:"pids"`
		Namespaces []string `json:"namespaces"`
		Node       *struct {
			Options struct{ Dir string } `json:"options"`
		} `json:"node"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Node == nil {
		t.Fatalf("the demo's state names no real node:\n%s", data)
	}

	out, err = run("down")
	downDone = true
	t.Logf("demo down:\n%s", out)
	if err != nil || strings.Contains(out, "left these on the machine") {
		t.Fatalf("demo down: %v", err)
	}
	for _, pid := range st.PIDs {
		if syscall.Kill(pid, 0) == nil {
			if stat, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(stat), ") Z ") {
				t.Errorf("process %d of the demo still runs after demo down", pid)
			}
		}
	}
	for _, ns := range st.Namespaces {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			t.Errorf("network namespace %s is left after demo down", ns)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), st.Node.Options.Dir) {
		t.Errorf("mounts under %s are left after demo down", st.Node.Options.Dir)
	}
	if _, err := os.Stat(filepath.Join(root, ".demo")); err == nil {
		t.Error(".demo is left after demo down")
	}
}
