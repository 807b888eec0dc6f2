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

package kwokcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Process is a project binary running as a local process in place of a
// simulated pod's container.
type Process struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Log is the file its stdout and stderr go to.
	Log string
	// Args are the arguments it was started with (for display).
	Args []string
	done chan struct{}
}

// CommandFor returns the local binary and arguments for a pod's container:
// the container's command (its base name, looked up in bin) followed by its
// arguments, then extra. Env gets the container's env with downward-API
// fields resolved for the pod (spec.nodeName, metadata.namespace,
// metadata.name); other sources are not supported and make it fail.
func CommandFor(bin string, pod *corev1.Pod, container string, extra ...string) (binary string, args, env []string, err error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == container {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", nil, nil, fmt.Errorf("pod %s has no container %q", pod.Name, container)
	}
	if len(c.Command) == 0 {
		return "", nil, nil, fmt.Errorf("container %q has no command", container)
	}
	binary = filepath.Join(bin, filepath.Base(c.Command[0]))
	args = append(append(append([]string{}, c.Command[1:]...), c.Args...), extra...)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil:
			var v string
			switch e.ValueFrom.FieldRef.FieldPath {
			case "spec.nodeName":
				v = pod.Spec.NodeName
			case "metadata.namespace":
				v = pod.Namespace
			case "metadata.name":
				v = pod.Name
			default:
				return "", nil, nil, fmt.Errorf("env %s: field %s not supported", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+v)
		default:
			return "", nil, nil, fmt.Errorf("env %s: only values and field references are supported", e.Name)
		}
	}
	return binary, args, env, nil
}

// Start runs binary with args and env (added to this process's environment)
// writing its output to logPath. The process gets its own process group, so
// it outlives the caller if detached is true; otherwise Stop it.
func Start(binary string, args, env []string, logPath string, detached bool) (*Process, error) {
	log, err := os.Create(logPath)
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

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

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
