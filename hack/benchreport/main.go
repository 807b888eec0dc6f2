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

// Command benchreport runs the benchmarks of `make bench`, each next to the
// baseline it measures in the same run, and writes the table of figures
// (value, baseline, ratio, target, met?) with the machine, date and Go
// version into docs/performance.md, between the markers
//
//	<!-- bench:begin --> and <!-- bench:end -->
//
// It prints the benchmarks' output as they run and keeps it in -raw. It
// exits non-zero, without touching the document, if any figure of the
// table is missing (a benchmark failed or did not report it). A figure
// that misses its target is reported as such in the table and does not
// make the command fail.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A run is one `go test -bench` invocation.
type run struct {
	name  string // file name in -raw
	pkg   string
	bench string // -bench regexp
	args  []string
}

// runs are the benchmarks behind the table, cheapest first.
var runs = []run{
	{"parse", "./pkg/wol", "^BenchmarkParseVsReference$",
		[]string{"-benchmem", "-count=6", "-benchtime=500ms", "-cpu=1"}},
	{"index", "./pkg/vmindex", "^BenchmarkIndexEvent$", []string{"-benchmem", "-count=3", "-cpu=1"}},
	macro("flood", "^BenchmarkFlood$"),
	macro("latency", "^BenchmarkWakeLatency$"),
	macro("scale", "^BenchmarkScale$"),
	macro("idle", "^BenchmarkIdleCost$"),
}

// macro is a run of one of the macro benchmarks in ./test/bench, which run
// once each (-benchtime=1x) and measure their baselines themselves.
func macro(name, bench string) run {
	return run{name, "./test/bench", bench, []string{"-benchtime=1x"}}
}

// results maps benchmark name (without the -GOMAXPROCS suffix) and unit to
// the values reported, one per -count.
type results map[string]map[string][]float64

var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(.+)$`)

// parse adds the benchmark lines of go test output to res.
func (res results) parse(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		name := m[1]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
}

// get returns the median of a benchmark's unit.
func (res results) get(r ref) (float64, bool) {
	vs := res[r.bench][r.unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// ref names one reported figure: benchmark and unit.
type ref struct{ bench, unit string }

func (r ref) String() string { return r.bench + " " + r.unit }

// ratioKind says how the ratio column reads.
type ratioKind int

const (
	noRatio ratioKind = iota
	faster            // baseline / value, "N× faster"
	times             // value / baseline, "N×"
)

// figure is one row of the table.
type figure struct {
	group, name string
	value       ref
	base        ref    // zero: no baseline
	baseName    string // what the baseline is, in words
	ratio       ratioKind
	format      func(float64) string
	target      string
	// met reports whether the target is met; nil: no target.
	met func(value, base float64) bool
}

func nsFmt(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f µs", v/1e3)
	}
	return fmt.Sprintf("%.1f ns", v)
}

func countFmt(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func unitFmt(unit string, prec int) func(float64) string {
	return func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) + " " + unit }
}

func kFmt(v float64) string { return fmt.Sprintf("%.0f k", v/1e3) }

// perMinFmt prints a rate per minute, without decimals from 100 on.
func perMinFmt(v float64) string {
	if v >= 100 {
		return thousands(v) + " /min"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " /min"
}

// thousands rounds v and groups its digits by three: 15146.9 -> "15,147".
func thousands(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// yes is the cell of a figure that holds or a target that is met.
const yes = "yes"

func yesNo(v float64) string {
	if v == 1 {
		return yes
	}
	return "no"
}

// The groups of the table, in the order of the issue.
const (
	groupParse   = "1. Parse"
	groupFlood   = "2. Flood"
	groupLatency = "3. Wake latency"
	groupScale   = "4. Scale"
	groupIdle    = "5. Idle cost"
)

// figures is the table, in the order of the issue.
func figures() []figure {
	var fs []figure
	for _, in := range []struct{ key, what string }{
		{"valid", "valid magic packet (102 B)"},
		{"invalid", "invalid payload (300 B of junk)"},
		{"frame", "raw frame (116 B, etherwake)"},
	} {
		wol := "BenchmarkParseVsReference/" + in.key + "/wol"
		ref0 := "BenchmarkParseVsReference/" + in.key + "/reference"
		fs = append(fs,
			figure{group: groupParse, name: in.what + ": time", value: ref{wol, "ns/op"},
				base: ref{ref0, "ns/op"}, baseName: "reference parser", ratio: faster, format: nsFmt,
				target: "≥ 20× faster", met: func(v, b float64) bool { return b/v >= 20 }},
			figure{group: groupParse, name: in.what + ": allocations", value: ref{wol, "allocs/op"},
				base: ref{ref0, "allocs/op"}, baseName: "reference parser", format: countFmt, target: "0",
				met: func(v, _ float64) bool { return v == 0 }},
		)
	}
	const flood = "BenchmarkFlood"
	const lat = "BenchmarkWakeLatency"
	scale := func(n int) string { return fmt.Sprintf("BenchmarkScale/vms=%d", n) }
	const idle = "BenchmarkIdleCost"
	// The listener's memory, in MiB, and the baseline of its figures.
	const (
		rss   = "rss-MiB"
		heap  = "heap-MiB"
		noVMs = "0 VMs"
	)
	mib := unitFmt("MiB", 1)
	sec := unitFmt("s", 2)
	fs = append(fs,
		figure{group: groupFlood, name: "packets handled per second, one core, saturating flood",
			value: ref{flood, "pkts/s"}, base: ref{flood, "bare-pkts/s"}, baseName: "bare recvmmsg reader",
			ratio: times, format: kFmt,
			target: "≥ 300 k and ≥ 0.5× bare", met: func(v, b float64) bool { return v >= 300e3 && v/b >= 0.5 }},
		figure{group: groupFlood, name: "packets dropped by the kernel at 300 k/s offered",
			value: ref{flood, "paced-drop-%"}, format: unitFmt("%", 2), target: "—"},
		figure{group: groupFlood, name: "API calls for duplicates and unknown MACs",
			value: ref{flood, "api-calls"}, format: countFmt, target: "0",
			met: func(v, _ float64) bool { return v == 0 }},
		figure{group: groupFlood, name: "valid wake sent during the flood served",
			value: ref{flood, "valid-served"}, format: yesNo, target: yes,
			met: func(v, _ float64) bool { return v == 1 }},
		figure{group: groupLatency, name: "packet to start accepted by real virt-api (202), p50 (400 wakes)",
			value: ref{lat, "p50-ns"}, base: ref{lat, "bare-p50-ns"}, baseName: "bare virtctl start (PUT …/start)",
			ratio: times, format: nsFmt, target: "—"},
		figure{group: groupLatency, name: "packet to start accepted by real virt-api (202), p99 (400 wakes)",
			value: ref{lat, "p99-ns"}, base: ref{lat, "bare-p99-ns"}, baseName: "bare virtctl start (PUT …/start)",
			ratio: times, format: nsFmt,
			target: "≤ 1.3× bare", met: func(v, b float64) bool { return v/b <= 1.3 }},
		figure{group: groupLatency, name: "packet to VirtualMachineInstance created by real virt-controller, p50",
			value: ref{lat, "vmi-p50-ns"}, format: nsFmt, target: "— (reported)"},
		figure{group: groupLatency, name: "packet to VirtualMachineInstance created by real virt-controller, p99",
			value: ref{lat, "vmi-p99-ns"}, format: nsFmt, target: "— (reported)"},
		figure{group: groupScale, name: "listener RSS, 1,000 VMs",
			value: ref{scale(1000), rss}, base: ref{scale(0), rss}, baseName: noVMs,
			ratio: times, format: mib, target: "—"},
		figure{group: groupScale, name: "listener RSS, 10,000 VMs",
			value: ref{scale(10000), rss}, base: ref{scale(0), rss}, baseName: noVMs,
			ratio: times, format: mib,
			target: "≤ 48 MiB", met: func(v, _ float64) bool { return v <= 48 }},
		figure{group: groupScale, name: "— of which anonymous (heap, stacks), 10,000 VMs",
			value: ref{scale(10000), "anon-rss-MiB"}, base: ref{scale(0), "anon-rss-MiB"}, baseName: noVMs,
			ratio: times, format: mib, target: "—"},
		figure{group: groupScale, name: "listener heap in use, 1,000 VMs",
			value: ref{scale(1000), heap}, base: ref{scale(0), heap}, baseName: noVMs,
			ratio: times, format: mib, target: "—"},
		figure{group: groupScale, name: "listener heap in use, 10,000 VMs",
			value: ref{scale(10000), heap}, base: ref{scale(0), heap}, baseName: noVMs,
			ratio: times, format: mib, target: "—"},
		figure{group: groupScale, name: "initial sync (start to ready), 1,000 VMs",
			value: ref{scale(1000), "sync-s"}, base: ref{scale(1000), "bare-list-s"}, baseName: "bare LIST",
			ratio: times, format: sec, target: "—"},
		figure{group: groupScale, name: "initial sync (start to ready), 10,000 VMs",
			value: ref{scale(10000), "sync-s"}, base: ref{scale(10000), "bare-list-s"}, baseName: "bare LIST",
			ratio: times, format: sec,
			target: "≤ 5 s", met: func(v, _ float64) bool { return v <= 5 }},
		figure{group: groupScale, name: "index update per VM event, 10,000 VMs",
			value:    ref{"BenchmarkIndexEvent/incremental", "ns/event"},
			base:     ref{"BenchmarkIndexEvent/rebuild", "ns/event"},
			baseName: "full rebuild", ratio: faster, format: nsFmt, target: "—"},
		figure{group: groupIdle, name: "operator API writes per minute, 1,000 VMs churning",
			value: ref{idle, "writes/min"}, base: ref{idle, "vm-writes/min"}, baseName: "VM writes by the churn",
			ratio: times, format: perMinFmt,
			target: "0", met: func(v, _ float64) bool { return v == 0 }},
		figure{group: groupIdle, name: "leader-election Lease renewals per minute",
			value: ref{idle, "lease-writes/min"}, format: perMinFmt, target: "—"},
	)
	return fs
}

// table renders the figures; it returns the names of the missing ones.
func table(res results) (string, []string) {
	var b strings.Builder
	var missing []string
	b.WriteString("| figure | value | baseline | ratio | target | met? |\n|---|---|---|---|---|---|\n")
	group := ""
	for _, f := range figures() {
		if f.group != group {
			group = f.group
			fmt.Fprintf(&b, "| **%s** | | | | | |\n", group)
		}
		v, ok := res.get(f.value)
		if !ok {
			missing = append(missing, f.group+": "+f.name+" ("+f.value.String()+")")
			continue
		}
		base, baseCell, ratioCell := 0.0, "—", "—"
		if f.base.bench != "" {
			if base, ok = res.get(f.base); !ok {
				missing = append(missing, f.group+": baseline of "+f.name+" ("+f.base.String()+")")
				continue
			}
			baseCell = f.format(base) + " (" + f.baseName + ")"
			switch {
			case f.ratio == faster && v > 0 && base/v >= 100:
				ratioCell = fmt.Sprintf("%s× faster", thousands(base/v))
			case f.ratio == faster && v > 0:
				ratioCell = fmt.Sprintf("%.1f× faster", base/v)
			case f.ratio == times && base > 0:
				ratioCell = fmt.Sprintf("%.2f×", v/base)
			}
		}
		met := "—"
		if f.met != nil {
			met = yes
			if !f.met(v, base) {
				met = "**no**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", f.name, f.format(v), baseCell, ratioCell, f.target, met)
	}
	return b.String(), missing
}

const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// replaceSection puts section between the markers of doc.
func replaceSection(doc, section string) (string, error) {
	i := strings.Index(doc, beginMarker)
	j := strings.Index(doc, endMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("the markers %s and %s are missing", beginMarker, endMarker)
	}
	return doc[:i+len(beginMarker)] + "\n" + section + doc[j:], nil
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

func cpuModel() string {
	for _, line := range strings.Split(command("lscpu"), "\n") {
		if rest, ok := strings.CutPrefix(line, "Model name:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return runtime.GOARCH
}

func main() {
	out := flag.String("out", "docs/performance.md", "document to write the table into (between the bench markers)")
	raw := flag.String("raw", "bin/bench", "folder for the raw output of each benchmark run")
	only := flag.String("only", "", "comma-separated runs to do ("+names()+"), for development: "+
		"the table is printed, the document is not written")
	from := flag.Bool("from-raw", false, "do not run anything: build the table from the raw outputs in -raw")
	flag.Parse()

	if err := os.MkdirAll(*raw, 0o755); err != nil {
		fail(err)
	}
	start := time.Now().UTC()
	load0 := loadavg()
	res := results{}
	var failed []string
	for _, r := range runs {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), r.name) {
			continue
		}
		path := filepath.Join(*raw, r.name+".txt")
		if *from {
			data, err := os.ReadFile(path)
			if err != nil {
				fail(err)
			}
			res.parse(bytes.NewReader(data))
			continue
		}
		if err := runBench(r, path, res); err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %s: %v\n", r.name, err)
			failed = append(failed, r.name)
		}
	}
	elapsed := time.Since(start)

	tbl, missing := table(res)
	if *only != "" {
		fmt.Printf("\nbenchreport: %s (%s not written with -only)\n\n%s", elapsed.Round(time.Second), *out, tbl)
		if len(failed) > 0 {
			fmt.Fprintf(os.Stderr, "runs that failed: %s\n", strings.Join(failed, ", "))
			os.Exit(1)
		}
		return
	}
	if len(failed) > 0 || len(missing) > 0 {
		fmt.Fprintln(os.Stderr, "\nbenchreport: FAILED; "+*out+" left unchanged.")
		if len(failed) > 0 {
			fmt.Fprintf(os.Stderr, "runs that failed: %s (raw output in %s)\n", strings.Join(failed, ", "), *raw)
		}
		for _, m := range missing {
			fmt.Fprintln(os.Stderr, "missing figure:", m)
		}
		os.Exit(1)
	}

	commit := command("git", "rev-parse", "--short", "HEAD")
	if command("git", "status", "--porcelain", "--untracked-files=no") != "" {
		commit += " with uncommitted changes"
	}
	var s strings.Builder
	s.WriteString("<!-- Generated by `make bench` (hack/benchreport/main.go); " +
		"edits between the markers are overwritten. -->\n\n")
	if *from {
		fmt.Fprintf(&s, "Table rebuilt on %s from the raw output in `%s`.\n\n", start.Format("2006-01-02 15:04 UTC"), *raw)
	} else {
		fmt.Fprintf(&s, "| run | |\n|---|---|\n")
		fmt.Fprintf(&s, "| date | %s (took %s) |\n", start.Format("2006-01-02 15:04 UTC"), elapsed.Round(time.Second))
		fmt.Fprintf(&s, "| machine | %s, %d CPUs; load average %s at the start, %s at the end |\n",
			cpuModel(), runtime.NumCPU(), load0, loadavg())
		fmt.Fprintf(&s, "| kernel | Linux %s |\n", command("uname", "-r"))
		fmt.Fprintf(&s, "| Go | %s |\n", strings.TrimPrefix(command("go", "version"), "go version "))
		fmt.Fprintf(&s, "| commit | %s |\n\n", commit)
	}
	s.WriteString(tbl)
	s.WriteString("\nA figure that misses its target is marked **no** here and explained below; " +
		"it does not make `make bench` fail. `make bench` fails only when a figure cannot be measured.\n")

	doc, err := os.ReadFile(*out)
	if err != nil {
		fail(err)
	}
	updated, err := replaceSection(string(doc), s.String())
	if err != nil {
		fail(fmt.Errorf("%s: %w", *out, err))
	}
	if err := os.WriteFile(*out, []byte(updated), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("\nbenchreport: wrote %s in %s\n\n%s", *out, elapsed.Round(time.Second), tbl)
}

func names() string {
	n := make([]string, 0, len(runs))
	for _, r := range runs {
		n = append(n, r.name)
	}
	return strings.Join(n, ",")
}

// runBench runs one go test invocation, streams its output, keeps it in
// path and parses it into res.
func runBench(r run, path string, res results) (err error) {
	args := append([]string{"test", "-run=^$", "-bench=" + r.bench, "-timeout=30m"}, r.args...)
	args = append(args, r.pkg)
	fmt.Printf("\n=== go %s\n", strings.Join(args, " "))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		// The raw output is kept for -from-raw: losing it is a failure.
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	var buf bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout = io.MultiWriter(os.Stdout, f, &buf)
	cmd.Stderr = io.MultiWriter(os.Stderr, f)
	err = cmd.Run()
	res.parse(&buf)
	if err != nil {
		return fmt.Errorf("go test: %w", err)
	}
	return nil
}

func fail(err error) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}
