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

package proc

import (
	"os/exec"
	"testing"
	"time"
)

// A process recorded by PID (as `make demo` records what `make demo-down`
// stops) is seen running, stopped, and seen ended; so is one that ended
// before it was attached.
func TestAttachStopsAProcessStartedElsewhere(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The test is the parent: reap the child when it ends, as init would
	// for a detached one.
	reaped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(reaped) }()

	p, err := Attach(cmd.Process.Pid, []string{"sleep", "60"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() {
		t.Fatal("a running process is reported ended")
	}
	p.Stop()
	if !p.Exited() {
		t.Fatal("Stop returned with the process still running")
	}
	select {
	case <-reaped:
	case <-time.After(time.Minute): // a deadline against a hang, not a timing assertion
		t.Fatal("the process did not end")
	}

	gone, err := Attach(cmd.Process.Pid, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone.Done():
	case <-time.After(time.Minute):
		t.Fatal("a process that ended before Attach is not reported ended")
	}
}
