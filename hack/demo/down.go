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
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

// stopProcesses stops the recorded processes all at once: SIGTERM, and
// SIGKILL for those still running 10 s later.
func stopProcesses(pids []int) {
	var wg sync.WaitGroup
	for _, pid := range pids {
		if p, err := proc.Attach(pid, nil, ""); err == nil {
			wg.Go(p.Stop)
		}
	}
	wg.Wait()
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
			stopProcesses(slices.Collect(maps.Values(st.Node.PIDs)))
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
