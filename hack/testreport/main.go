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

// Command testreport shows `go test -json` the way `go test` does (a line per
// package, the output of what failed), notes every skipped test or Ginkgo
// spec with its reason, says which packages are still running every
// minute, and records the run; with -summary it prints what the recorded
// runs ran and skipped, which `make test` ends with.
//
//	go test -json ./... | testreport -record .test-report/unit.json
//	testreport -summary .test-report
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// The test2json actions that end a test or a package.
const (
	actionPass = "pass"
	actionFail = "fail"
	actionSkip = "skip"
)

// Skip is a test, or a Ginkgo suite's specs, that did not run.
type Skip struct {
	Package, Test, Reason string
}

// Record is what one `go test -json` run ran and skipped.
type Record struct {
	Name                     string
	Packages, FailedPackages []string
	Passed, Failed           int
	Skipped                  []Skip
	SpecsRun, SpecsTotal     int
}

func main() {
	record := flag.String("record", "", "read `go test -json` on stdin, show it, and record the run in this file")
	summary := flag.String("summary", "", "print a summary of the runs recorded in this directory")
	flag.Parse()
	switch {
	case *record != "":
		rec, err := follow(os.Stdin, os.Stdout, time.Minute)
		if err == nil {
			rec.Name = strings.TrimSuffix(filepath.Base(*record), ".json")
			err = write(*record, rec)
		}
		if err != nil {
			_, _ = fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
		if len(rec.FailedPackages) > 0 || rec.Failed > 0 {
			os.Exit(1)
		}
	case *summary != "":
		if err := summarize(*summary, os.Stdout); err != nil {
			_, _ = fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

var (
	ansi       = regexp.MustCompile("\x1b\\[[0-9;]*m")
	ginkgoRan  = regexp.MustCompile(`^Ran (\d+) of (\d+) Specs`)
	ginkgoSkip = regexp.MustCompile(`(\d+) Skipped`)
)

// follow reads test2json events from r, writes what `go test` would show
// to w, and says every tick which packages are still running.
func follow(r io.Reader, w io.Writer, tick time.Duration) (*Record, error) {
	var (
		mu      sync.Mutex
		rec     = &Record{}
		output  = map[string][]string{} // package + "\x00" + test -> lines
		started = map[string]time.Time{}
	)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				mu.Lock()
				running := make([]string, 0, len(started))
				for pkg, at := range started {
					running = append(running, fmt.Sprintf("%s (%s)", short(pkg), now.Sub(at).Round(time.Second)))
				}
				mu.Unlock()
				if len(running) > 0 {
					sort.Strings(running)
					_, _ = fmt.Fprintf(w, "… still running: %s\n", strings.Join(running, ", "))
				}
			}
		}
	}()

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			_, _ = fmt.Fprintf(w, "%s\n", line) // not an event: a build error, say
			continue
		}
		key := e.Package + "\x00" + e.Test
		mu.Lock()
		switch e.Action {
		case "start":
			started[e.Package] = time.Now()
		case "output", "build-output":
			if e.Test == "" {
				// Package level: the ok/FAIL line, build errors, panics.
				if o := e.Output; o != "PASS\n" && o != "FAIL\n" && !strings.HasPrefix(o, "testing: warning: no tests") {
					_, _ = fmt.Fprint(w, o)
				}
			} else {
				output[key] = append(output[key], e.Output)
			}
		case actionPass, actionFail, actionSkip:
			if e.Test == "" {
				delete(started, e.Package)
				switch e.Action {
				case actionFail:
					rec.FailedPackages = append(rec.FailedPackages, e.Package)
				case actionPass:
					rec.Packages = append(rec.Packages, e.Package)
				}
				break
			}
			lines := output[key]
			delete(output, key)
			switch e.Action {
			case actionPass:
				rec.Passed++
				ginkgo(rec, e, lines, w)
			case actionFail:
				rec.Failed++
				_, _ = fmt.Fprint(w, strings.Join(lines, ""))
			case actionSkip:
				s := Skip{Package: e.Package, Test: e.Test, Reason: reason(lines)}
				rec.Skipped = append(rec.Skipped, s)
				_, _ = fmt.Fprintf(w, "--- SKIP: %s %s: %s\n", short(s.Package), s.Test, s.Reason)
			}
		}
		mu.Unlock()
	}
	return rec, sc.Err()
}

// ginkgo notes the specs a Ginkgo suite (a passing Test function) ran and
// skipped.
func ginkgo(rec *Record, e event, lines []string, w io.Writer) {
	for i, l := range lines {
		m := ginkgoRan.FindStringSubmatch(ansi.ReplaceAllString(l, ""))
		if m == nil {
			continue
		}
		ran, _ := strconv.Atoi(m[1])
		total, _ := strconv.Atoi(m[2])
		rec.SpecsRun += ran
		rec.SpecsTotal += total
		if i+1 >= len(lines) {
			return
		}
		verdict := ansi.ReplaceAllString(lines[i+1], "")
		sm := ginkgoSkip.FindStringSubmatch(verdict)
		if sm == nil || sm[1] == "0" {
			return
		}
		why := sm[1] + " specs skipped"
		if strings.Contains(verdict, "Suite skipped in BeforeSuite") {
			why = fmt.Sprintf("the whole suite (%d specs) skipped in BeforeSuite", total)
		}
		s := Skip{Package: e.Package, Test: e.Test, Reason: why}
		rec.Skipped = append(rec.Skipped, s)
		_, _ = fmt.Fprintf(w, "--- SKIP: %s %s: %s\n", short(s.Package), s.Test, s.Reason)
		return
	}
}

// reason is what a skipped test said, without the === and --- lines.
func reason(lines []string) string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		// "    file_test.go:12: message"
		if i := strings.Index(l, ".go:"); i >= 0 {
			if j := strings.Index(l[i+4:], ": "); j >= 0 {
				l = l[i+4+j+2:]
			}
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return "no reason given"
	}
	return strings.Join(out, " ")
}

func short(pkg string) string {
	if i := strings.Index(pkg, "kubevirt-wol/"); i >= 0 {
		return pkg[i+len("kubevirt-wol/"):]
	}
	return pkg
}

func write(path string, rec *Record) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// summarize prints every record of dir (and every .txt note, such as the
// fuzz run's), in the order of make test.
func summarize(dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	// make test's order first, then the rest by name.
	order := []string{"verify", "unit", "fuzz", "rules", "dist", "e2e"}
	rank := func(name string) int {
		if i := slices.Index(order, strings.TrimSuffix(name, filepath.Ext(name))); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int { return rank(a.Name()) - rank(b.Name()) })
	_, _ = fmt.Fprintln(w, "== what ran ==")
	var skipped []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".txt":
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprint(w, string(data))
		case ".json":
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var rec Record
			if err := json.Unmarshal(data, &rec); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			line := fmt.Sprintf("%-6s %d packages ok, %d failed; %d tests passed, %d failed, %d skipped",
				rec.Name+":", len(rec.Packages), len(rec.FailedPackages), rec.Passed, rec.Failed, len(rec.Skipped))
			if rec.SpecsTotal > 0 {
				line += fmt.Sprintf("; Ginkgo specs: %d of %d ran", rec.SpecsRun, rec.SpecsTotal)
			}
			_, _ = fmt.Fprintln(w, line)
			for _, s := range rec.Skipped {
				skipped = append(skipped, fmt.Sprintf("  %s: %s %s: %s", rec.Name, short(s.Package), s.Test, s.Reason))
			}
		}
	}
	slices.Sort(skipped)
	if len(skipped) == 0 {
		_, _ = fmt.Fprintln(w, "== skipped: nothing ==")
		return nil
	}
	_, _ = fmt.Fprintf(w, "== skipped: %d ==\n%s\n", len(skipped), strings.Join(skipped, "\n"))
	return nil
}
