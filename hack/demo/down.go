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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
)

// stopProcesses sends SIGTERM to each process, waits up to 10 s for all of
// them to end, and kills those still running.
func stopProcesses(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	alive := func() []int {
		var out []int
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				out = append(out, pid)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(alive()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range alive() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// down stops the processes, deletes the cluster and the namespaces.
func down() error {
	data, err := os.ReadFile(stateFile)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("no demo is running")
		return nil
	}
	if err != nil {
		return err
	}
	st := &state{}
	if err := json.Unmarshal(data, st); err != nil {
		return err
	}
	if st.Node != nil {
		// First, while the API server and containerd still run: the node
		// drains its pods and removes its containers, then cleans up.
		n, err := node.Resume(bin, *st.Node)
		if err != nil {
			fmt.Fprintln(os.Stderr, "the real node:", err)
		} else {
			n.Stop()
			if left := n.LeftOnMachine(); len(left) > 0 {
				fmt.Fprintln(os.Stderr, "the real node left these on the machine:", strings.Join(left, ", "))
			}
		}
	}
	stopProcesses(st.PIDs)
	if st.Kubeconfig != "" {
		c := &kwokcluster.Cluster{Name: clusterName, Workdir: st.Workdir, Kubeconfig: st.Kubeconfig, Bin: bin}
		if err := c.Delete(); err != nil {
			fmt.Fprintln(os.Stderr, "deleting the cluster:", err)
		}
	}
	for _, ns := range st.Namespaces {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	if err := os.RemoveAll(demoDir); err != nil {
		return err
	}
	fmt.Println("demo stopped: processes ended, cluster and network namespaces removed")
	return nil
}

// relay is the real node's way to the API server while the demo runs
// (node.Options.RelayCommand): demo relay --netns=PATH --listen=ADDR --to=ADDR.
func relay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	netnsPath := fs.String("netns", "", "the network namespace to listen in")
	listen := fs.String("listen", "", "the address to listen on there")
	to := fs.String("to", "", "the address to relay to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return node.Relay(ctx, *netnsPath, *listen, *to)
}
