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
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stream renders events as `go test -json` prints them.
func stream(t *testing.T, events ...event) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestFollowAndSummary(t *testing.T) {
	const pkg, pkg2 = "github.com/gpillon/kubevirt-wol/pkg/a", "github.com/gpillon/kubevirt-wol/pkg/b"
	in := stream(
		t,
		event{Action: "start", Package: pkg},
		event{Action: "output", Package: pkg, Test: "TestOK", Output: "=== RUN   TestOK\n"},
		event{Action: "output", Package: pkg, Test: "TestOK", Output: "noise of a passing test\n"},
		event{Action: "pass", Package: pkg, Test: "TestOK"},
		event{
			Action:  "output",
			Package: pkg,
			Test:    "TestRoot",
			Output:  "    x_test.go:9: SKIPPED (SKIP_PRIVILEGED is set): this test needs root\n",
		},
		event{Action: "output", Package: pkg, Test: "TestRoot", Output: "--- SKIP: TestRoot (0.00s)\n"},
		event{Action: "skip", Package: pkg, Test: "TestRoot"},
		event{
			Action:  "output",
			Package: pkg,
			Test:    "TestSuite",
			Output:  "\x1b[1mRan 0 of 7 Specs in 0.000 seconds\x1b[0m\n",
		},
		event{
			Action:  "output",
			Package: pkg,
			Test:    "TestSuite",
			Output:  "SUCCESS! - Suite skipped in BeforeSuite -- 0 Passed | 0 Failed | 0 Pending | 7 Skipped\n",
		},
		event{Action: "pass", Package: pkg, Test: "TestSuite"},
		event{Action: "output", Package: pkg, Output: "PASS\n"},
		event{Action: "output", Package: pkg, Output: "ok  \tgithub.com/gpillon/kubevirt-wol/pkg/a\t0.01s\n"},
		event{Action: "pass", Package: pkg},
		event{Action: "start", Package: pkg2},
		event{Action: "output", Package: pkg2, Test: "TestBad", Output: "    y_test.go:3: the VM did not start\n"},
		event{Action: "fail", Package: pkg2, Test: "TestBad"},
		event{Action: "output", Package: pkg2, Output: "FAIL\tgithub.com/gpillon/kubevirt-wol/pkg/b\t0.02s\n"},
		event{Action: "fail", Package: pkg2},
	)
	var out strings.Builder
	rec, err := follow(strings.NewReader(in), &out, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	shown := out.String()
	for _, want := range []string{
		"ok  \tgithub.com/gpillon/kubevirt-wol/pkg/a",
		"--- SKIP: pkg/a TestRoot: SKIPPED (SKIP_PRIVILEGED is set): this test needs root",
		"--- SKIP: pkg/a TestSuite: the whole suite (7 specs) skipped in BeforeSuite",
		"the VM did not start",
		"FAIL\tgithub.com/gpillon/kubevirt-wol/pkg/b",
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("output lacks %q:\n%s", want, shown)
		}
	}
	if strings.Contains(shown, "noise of a passing test") {
		t.Errorf("a passing test's output is shown:\n%s", shown)
	}
	if rec.Passed != 2 || rec.Failed != 1 || len(rec.Skipped) != 2 || len(rec.Packages) != 1 || len(rec.FailedPackages) != 1 ||
		rec.SpecsRun != 0 ||
		rec.SpecsTotal != 7 {
		t.Errorf("record %+v", rec)
	}

	dir := t.TempDir()
	rec.Name = "unit"
	if err := write(filepath.Join(dir, "unit.json"), rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fuzz.txt"), []byte("fuzz:  3 targets, 200000x each\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	if err := summarize(dir, &sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"fuzz:  3 targets",
		"unit:  1 packages ok, 1 failed; 2 tests passed, 1 failed, 2 skipped; Ginkgo specs: 0 of 7 ran",
		"== skipped: 2 ==",
		"unit: pkg/a TestSuite: the whole suite (7 specs) skipped in BeforeSuite",
	} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}
