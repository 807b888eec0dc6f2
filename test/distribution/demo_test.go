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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
)

// makeClosure returns every target `make goal` would consider with bin/ at
// an empty folder bin (a fresh machine), read from make's own database.
func makeClosure(t *testing.T, goal, bin string, vars ...string) map[string]bool {
	t.Helper()
	// -q exits 1 when something is to be made: the database is printed all the same.
	args := append([]string{"-pnq", "--no-print-directory", "-C", root, goal, "GOBIN_LOCAL=" + bin}, vars...)
	out, _ := exec.Command("make", args...).Output()
	rules := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "\t") {
			continue
		}
		target, prereqs, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(prereqs, "=") || strings.Contains(target, "=") {
			continue
		}
		rules[target] = append(rules[target], strings.Fields(strings.ReplaceAll(prereqs, "|", " "))...)
	}
	if _, ok := rules[goal]; !ok {
		t.Fatalf("make's database has no rule for %s:\n%s", goal, out)
	}
	seen := map[string]bool{}
	var visit func(string)
	visit = func(target string) {
		if seen[target] {
			return
		}
		seen[target] = true
		for _, p := range rules[target] {
			visit(p)
		}
	}
	visit(goal)
	return seen
}

// On a fresh machine `make demo` builds everything the demo runs (the first
// cold run found kube-apiserver and etcd missing: their variables were
// empty where the demo rule was read) and nothing it does not use; with a
// real node (DEMO_NODE=1, as root with containerd and the rest installed)
// also the image and the node's binaries, and without one not those.
func TestMakeDemoBuildsWhatItRuns(t *testing.T) {
	runs := slices.Concat(kwokcluster.Binaries, kubevirtcp.Binaries, []string{"kustomize"})
	nodeRuns := slices.Concat(node.Binaries, []string{"kubevirt-wol-image.tar", "pause-image.tar"})
	for _, tc := range []struct {
		name, demoNode string
		runs, unused   []string
	}{
		{"without a real node", "", runs, nodeRuns},
		{"with a real node", "1", slices.Concat(runs, nodeRuns), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			closure := makeClosure(t, "demo", bin, "DEMO_NODE="+tc.demoNode)
			built := func(b string) bool {
				switch b {
				case "kwok": // one rule builds kwok and kwokctl
					b = "kwokctl"
				case filepath.Join("kubevirt", "crds"): // written with manifests.json
					b = filepath.Join("kubevirt", "manifests.json")
				case "kubevirt-wol-image.tar": // written by the phony image target
					return closure["image"]
				}
				return closure[filepath.Join(bin, b)]
			}
			for _, b := range tc.runs {
				if !built(b) {
					t.Errorf("make demo does not build %s, which the demo runs", b)
				}
			}
			if !closure["build-bin"] {
				t.Error("make demo does not build the operator and the listener (build-bin)")
			}
			unused := append([]string{"golangci-lint", "controller-gen", "operator-sdk", "opm", "helm", "olm/olm", "prometheus", "prometheus-operator"}, tc.unused...)
			for _, u := range unused {
				if built(u) {
					t.Errorf("make demo builds %s, which the demo does not use", u)
				}
			}
		})
	}
}
