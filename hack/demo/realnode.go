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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
)

// realNodeName is the demo's real node.
const realNodeName = "wol-node"

// realNodeProblem says why the demo cannot join a real node ("" if it can).
func realNodeProblem() string {
	if p := netlab.Problem(); p != "" {
		return p
	}
	if m := node.Missing(bin); m != "" {
		return m
	}
	for _, v := range []string{"IMAGE_TAR", "PAUSE_IMAGE_TAR", "PAUSE_IMAGE"} {
		if os.Getenv(v) == "" {
			return "make demo did not build the image (DEMO_NODE is empty: it is set as root when Debian's " +
				"containerd, runc, containernetworking-plugins, iptables and libc6-dev are installed)"
		}
	}
	return ""
}

// joinNode joins the real node, in the LAN's node namespace, before
// anything is installed: the operator's pod then has only it to go to.
func (d *demo) joinNode() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	h := d.lan.Host("node0")
	n, err := d.stk.StartNode(d.ctx, stack.NodeOptions{
		Name: realNodeName, NetNS: h.Path(), IP: h.IP,
		PauseImage: os.Getenv("PAUSE_IMAGE"), PauseArchive: os.Getenv("PAUSE_IMAGE_TAR"),
		Images: []string{os.Getenv("IMAGE_TAR")},
		// The node outlives this process: its way to the API server is a
		// process too (this program's relay command).
		RelayCommand: []string{exe, "relay"},
	})
	if err != nil {
		return err
	}
	d.realNode = n
	// Recorded at once: demo-down stops the node as a whole (State).
	st := n.State()
	d.st.Node = &st
	if err := saveState(d.st); err != nil {
		return err
	}
	note("cluster up in %s; real node %s Ready: kubelet and kube-proxy %s with Debian's containerd, runc and "+
		"CNI plugins, in network namespace %s (%s); images imported from %s (no registry)",
		time.Since(d.start).Round(time.Second), realNodeName, kubeVersion(), h.NS, h.IP,
		filepath.Base(os.Getenv("IMAGE_TAR")))
	return nil
}

// kubeVersion is the version of bin/kubelet.
func kubeVersion() string {
	out, err := exec.Command(filepath.Join(bin, "kubelet"), "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "Kubernetes ")
}

// operatorPod is step 4 with a real node: the operator's pod runs there,
// and simulated nodes join for the VMs' launcher pods.
func (d *demo) operatorPod() error {
	step(4, "The operator runs as a real pod on %s, from the image", realNodeName)
	pods, err := d.stk.WaitPods(d.ctx, operatorNS, stack.OperatorSelector, 1, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, d.realNode.Logs(30))
	}
	p := &pods[0]
	note("pod %s/%s Running on %s: image %s, as its non-root user with no capability, its in-cluster client "+
		"reaching the API server through the `kubernetes` Service (kube-proxy)",
		p.Namespace, p.Name, p.Spec.NodeName, p.Spec.Containers[0].Image)
	if err := d.stk.AddSimulatedNodes(d.ctx, 2); err != nil {
		return err
	}
	note("2 simulated nodes added for the VMs' launcher pods (KubeVirt schedules there; the real node has no KVM)")
	return nil
}

// listenerLog is the listener's log so far: its container's, as the real
// node's kubelet keeps it, or its process's.
func (d *demo) listenerLog() string {
	if d.listenerPod != nil {
		out, err := d.realNode.ContainerLog(d.listenerPod, "listener")
		if err != nil {
			return err.Error()
		}
		return out
	}
	return d.lst.Output()
}

// criMessage is what the program wrote of a line of a kubelet's container
// log ("<time> <stream> <P|F> <message>"), or the line itself.
func criMessage(line string) string {
	f := strings.SplitN(line, " ", 4)
	if len(f) == 4 {
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err == nil {
			return f[3]
		}
	}
	return line
}

// listenerLogPath is where the listener's log is.
func (d *demo) listenerLogPath() string {
	if d.listenerPod != nil {
		return d.realNode.ContainerLogFiles(d.listenerPod, "listener")
	}
	if d.lst == nil {
		return filepath.Join(demoDir, "listener.log")
	}
	return d.lst.Log
}

// operatorLog is where the operator's log is.
func (d *demo) operatorLog() string {
	if d.stk.Operator != nil {
		return d.stk.Operator.Log
	}
	pods, err := d.stk.Pods(d.ctx, operatorNS, stack.OperatorSelector)
	if err != nil || len(pods) == 0 || d.realNode == nil {
		return filepath.Join(demoDir, "operator.log")
	}
	return d.realNode.ContainerLogFiles(&pods[0], "manager")
}
