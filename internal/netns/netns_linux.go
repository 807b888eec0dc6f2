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

// Package netns runs code inside a Linux network namespace: the sockets it
// opens live there while the rest of the process stays where it is. The
// listener uses it to stand in for a node's host network when nodes are
// simulated on one machine, and the tests use it to act as a host of their
// namespace LAN.
package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Run runs fn on an OS thread that has entered the network namespace at
// path (e.g. /run/netns/lab), so the sockets fn opens live there while the
// rest of the process (API clients, metrics) stays where it is. The thread
// is never handed back to the scheduler; it exits with fn. An empty path
// runs fn in the process's own namespace.
func Run(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with this goroutine
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening network namespace %s: %w", path, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
