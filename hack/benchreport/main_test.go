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
	"strings"
	"testing"
)

func TestParseTakesMediansAndStripsProcs(t *testing.T) {
	res := results{}
	res.parse(strings.NewReader(`goos: linux
BenchmarkParseVsReference/valid/wol         	14263891	        30.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkParseVsReference/valid/wol         	15365059	        10.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkParseVsReference/valid/wol         	15080128	        20.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkFlood-2   	       1	         0 api-calls	    612326 bare-pkts/s	        15.93 drop-%
--- BENCH: BenchmarkFlood-2
    flood_linux_test.go:225: round 0: bare reader 580248 pkts/s
PASS
`))
	if v, ok := res.get(ref{"BenchmarkParseVsReference/valid/wol", "ns/op"}); !ok || v != 20 {
		t.Errorf("median ns/op = %v, %v; want 20", v, ok)
	}
	if v, ok := res.get(ref{"BenchmarkFlood", "drop-%"}); !ok || v != 15.93 {
		t.Errorf("drop-%% = %v, %v; want 15.93", v, ok)
	}
	if _, ok := res.get(ref{"BenchmarkFlood", "pkts/s"}); ok {
		t.Error("a figure that was not reported was found")
	}
}

func TestTableReportsMissingFiguresAndMissedTargets(t *testing.T) {
	res := results{}
	res.parse(strings.NewReader(`BenchmarkParseVsReference/valid/wol 1 50 ns/op 0 allocs/op
BenchmarkParseVsReference/valid/reference 1 500 ns/op 1 allocs/op
`))
	tbl, missing := table(res)
	if !strings.Contains(tbl, "| valid magic packet (102 B): time | 50.0 ns | 500.0 ns (reference parser) | 10.0× faster | ≥ 20× faster | **no** |") {
		t.Errorf("the missed target is not reported:\n%s", tbl)
	}
	if len(missing) == 0 || !strings.Contains(strings.Join(missing, "\n"), "BenchmarkFlood pkts/s") {
		t.Errorf("missing figures not reported: %v", missing)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Title\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## Rest\n"
	got, err := replaceSection(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Title\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\n## Rest\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := replaceSection("no markers", "x"); err == nil {
		t.Error("a document without markers was accepted")
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{15146.9: "15,147", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}
