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

package vmstarter_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

// The run strategy × instance state table of twins_test.go, as it appears in
// docs/starting-vms.md between these markers. Run with UPDATE_DOCS=1 to
// write it there.
const (
	tableBegin = "<!-- begin: table generated from pkg/vmstarter/twins_test.go -->"
	tableEnd   = "<!-- end: table -->"
)

func renderTable() string {
	var b strings.Builder
	b.WriteString("| run strategy | instance before | `virtctl start`: real virt-api answers | then | kubevirt-wol | then | why different |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, s := range strategies {
		for _, st := range instanceStates {
			if why, ok := unreachable[[2]string{s.name, st}]; ok {
				fmt.Fprintf(&b, "| %s | %s | — | — | — | — | not a state KubeVirt keeps: %s |\n", s.name, st, why)
				continue
			}
			for _, r := range rows {
				if r.strategy.name != s.name || r.state != st {
					continue
				}
				state := st
				if r.reached != "" {
					state = st + " (KubeVirt moves it to " + r.reached + ")"
				}
				kv := fmt.Sprintf("%d %s", r.virtctl.code, http.StatusText(r.virtctl.code))
				if r.virtctl.message != "" {
					kv += ` "…` + r.virtctl.message + `"`
				}
				o := r.ours.outcome.String()
				if r.ours.reason != vmstarter.ReasonNone {
					o += " (" + string(r.ours.reason) + ")"
				}
				if r.state == stStopping {
					o = "waits for the stop, then " + o
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", s.name, state, kv, describe(r.kvDoes), o, describe(r.oursDoes), r.why)
			}
		}
	}
	return b.String()
}

func describe(e effect) string {
	inst := map[string]string{"kept": "same instance", "new": "new instance", "none": "no instance"}[e.instance]
	return e.strategy + ", " + inst
}

// TestStartingVMsDocMatchesTable keeps docs/starting-vms.md's table the one
// the twins test runs against real KubeVirt.
func TestStartingVMsDocMatchesTable(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "docs", "starting-vms.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, tableBegin, tableEnd)
	}
	want := tableBegin + "\n" + renderTable() + tableEnd
	got := doc[i : j+len(tableEnd)]
	if got == want {
		return
	}
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(doc[:i]+want+doc[j+len(tableEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("the table in %s differs from the one the tests run (UPDATE_DOCS=1 go test ./pkg/vmstarter -run TestStartingVMsDocMatchesTable writes it):\n%s", path, renderTable())
}
