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

// Package proc runs the programs a test or demo needs beside it — the
// project's binaries started with a pod's arguments, KubeVirt's virt-api and
// virt-controller — as local processes with their output in a log file.
package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a program running as a local process.
type Process struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Log is the file its stdout and stderr go to.
	Log string
	// Args are the arguments it was started with (for display).
	Args []string
	done chan struct{}
}

// Start runs binary with args and env (added to this process's environment)
// writing its output to logPath (appended to, so a restarted program keeps
// one log). The process gets its own process group, so it outlives the
// caller if detached is true; otherwise Stop it.
func Start(binary string, args, env []string, logPath string, detached bool) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: detached}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	p := &Process{Cmd: cmd, Log: logPath, Args: append([]string{binary}, args...), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p, nil
}

// Attach returns the Process of a running program that another process
// started (detached) and recorded by PID, so that it can be stopped: Stop,
// Kill and Exited work as for a child, the end being seen through a pidfd
// (which becomes readable when the process ends, zombie or reaped). A PID
// that no longer runs gives a Process that has already ended.
func Attach(pid int, args []string, logPath string) (*Process, error) {
	pr, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	p := &Process{Cmd: &exec.Cmd{Process: pr}, Log: logPath, Args: args, done: make(chan struct{})}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		close(p.done)
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watching process %d: %w", pid, err)
	}
	go func() {
		defer func() { _ = unix.Close(fd) }()
		for {
			_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM, waits up to 10 s, then kills.
func (p *Process) Stop() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process at once (SIGKILL), as a crash or an OOM kill would,
// and waits until it is gone.
func (p *Process) Kill() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Output returns the process's log so far.
func (p *Process) Output() string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// String is the command line.
func (p *Process) String() string { return strings.Join(p.Args, " ") }
