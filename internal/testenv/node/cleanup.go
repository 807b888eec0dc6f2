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

package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// Paths outside the node's folder that the kubelet, containerd, its shims
// and the CNI plugins use whatever their configuration says. Stop removes
// what the node added there.
const (
	// netnsDir is where containerd would put the pods' network namespaces
	// (cni-<uuid>); the node has it put them under its state folder
	// (netns_mounts_under_state_dir), so this is a safety net.
	netnsDir = "/run/netns"
	// runContainerd holds the shims' sockets (s/) and runc's state (runc/).
	runContainerd = "/run/containerd"
	// varLibKubelet gets device-plugins/kubelet.sock.
	varLibKubelet = "/var/lib/kubelet"
	// varLogContainers gets a link to each container's log.
	varLogContainers = "/var/log/containers"
	// varLibCNI holds libcni's cache of each attachment (results/).
	varLibCNI = "/var/lib/cni"
)

// fixedDirs are the folders the node creates if they are missing; Stop
// removes those it created.
var fixedDirs = []string{runContainerd, varLibKubelet, varLogContainers, varLibCNI}

// snapshot is what existed on the machine before the node started, so that
// Stop removes only what the node added.
type snapshot struct {
	NetNS   map[string]bool `json:"netns"`
	Dirs    map[string]bool `json:"dirs"`
	Cgroups map[string]bool `json:"cgroups"`
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func takeSnapshot() (snapshot, error) {
	s := snapshot{NetNS: map[string]bool{}, Dirs: map[string]bool{}, Cgroups: map[string]bool{}}
	for _, d := range fixedDirs {
		s.Dirs[d] = exists(d)
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	for _, e := range entries {
		s.NetNS[e.Name()] = true
	}
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return s, err
	}
	for _, h := range hierarchies {
		s.Cgroups[filepath.Join(h, "k8s.io")] = exists(filepath.Join(h, "k8s.io"))
	}
	return s, nil
}

// Stop deletes the node's pods (so that the kubelet tears their sandboxes and
// networks down), stops kube-proxy, the kubelet and containerd, and removes
// everything the node left on the machine (Cleanup). Safe to call more than
// once and on a node that did not finish starting.
func (n *Node) Stop() {
	if n == nil {
		return
	}
	if n.Kubelet != nil && !n.Kubelet.Exited() && n.kube != nil {
		n.drain(30 * time.Second)
	}
	n.KubeProxy.Stop()
	n.Kubelet.Stop()
	if n.Containerd != nil && !n.Containerd.Exited() {
		n.removeContainers()
	}
	n.Containerd.Stop()
	if n.fwd != nil {
		n.fwd.Close()
		n.fwd = nil
	}
	n.Relay.Stop()
	n.Cleanup()
}

// drain cordons the node (so that no new pod comes), deletes every pod
// bound to it at once and waits (up to timeout) until the kubelet has
// stopped their containers.
func (n *Node) drain(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	_, _ = n.kube.CoreV1().Nodes().Patch(ctx, n.opts.Name, types.StrategicMergePatchType, cordon, metav1.PatchOptions{})
	sel := fields.OneTermEqualSelector("spec.nodeName", n.opts.Name).String()
	pods, err := n.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		_ = n.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}
	_ = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		out, err := n.ctr(ctx, "tasks", "ls", "-q")
		return err == nil && strings.TrimSpace(out) == "", nil
	})
}

// removeContainers kills and deletes whatever containers are left (the
// kubelet did not get to them), so that their shims exit.
func (n *Node) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := n.ctr(ctx, "tasks", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = n.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
			_, _ = n.ctr(ctx, "tasks", "delete", "--force", id)
		}
	}
	if out, err := n.ctr(ctx, "containers", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = n.ctr(ctx, "containers", "delete", id)
		}
	}
}

// Cleanup removes what the node leaves on the machine once its processes
// have ended: shims still running for its containerd (killed by PID), every
// mount under its folder (the kubelet's bind mount of its root, the pods'
// volumes, the containers' root filesystems), the pods' network namespaces
// it added to /run/netns, its cgroups (under CgroupRoot, and containerd's
// k8s.io if the node made it), the links the kubelet made in
// /var/log/containers to its pod logs, libcni's cache of its network, and
// /run/containerd, /var/lib/kubelet, /var/log/containers and /var/lib/cni if
// they were not there before.
func (n *Node) Cleanup() {
	n.killShims()
	unmountUnder(n.opts.Dir)
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			if !n.before.NetNS[e.Name()] && strings.HasPrefix(e.Name(), "cni-") {
				p := filepath.Join(netnsDir, e.Name())
				_ = unix.Unmount(p, unix.MNT_DETACH)
				_ = os.Remove(p)
			}
		}
	}
	if hierarchies, err := cgroupHierarchies(); err == nil {
		for _, h := range hierarchies {
			removeCgroupTree(filepath.Join(h, strings.TrimPrefix(n.CgroupRoot(), "/")))
			if k := filepath.Join(h, "k8s.io"); !n.before.Cgroups[k] {
				removeCgroupTree(k)
			}
		}
	}
	if links, err := os.ReadDir(varLogContainers); err == nil {
		for _, l := range links {
			p := filepath.Join(varLogContainers, l.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, n.PodLogsDir()+"/") {
				_ = os.Remove(p)
			}
		}
	}
	if cached, err := filepath.Glob(filepath.Join(varLibCNI, "results", n.cniNetwork()+"-*")); err == nil {
		for _, c := range cached {
			_ = os.Remove(c)
		}
	}
	for _, dir := range fixedDirs {
		if !n.before.Dirs[dir] {
			unmountUnder(dir)
			_ = os.RemoveAll(dir)
		}
	}
}

// killShims kills the containerd shims serving the node's containerd.
func (n *Node) killShims() {
	for _, pid := range n.shims() {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// shims are the PIDs of the containerd shims serving the node's containerd
// (found by its socket address on their command line).
func (n *Node) shims() []int {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") && strings.Contains(string(cmdline), n.Socket()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points at or under dir in this process's
// mount namespace.
func mountsUnder(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, err
	}
	points := make([]string, 0, len(infos))
	for _, m := range infos {
		points = append(points, m.Mountpoint)
	}
	return points, nil
}

// unmountUnder detaches every mount at or under dir, deepest first, until
// none is left (a mount may be stacked on another).
func unmountUnder(dir string) {
	for range 10 {
		under, err := mountsUnder(dir)
		if err != nil || len(under) == 0 {
			return
		}
		sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
		for _, p := range under {
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	}
}

// cgroupHierarchies lists the mounted cgroup hierarchies (v1 controllers
// and the v2 unified one).
func cgroupHierarchies() ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out, nil
}

// removeCgroupTree removes a cgroup and its children, deepest first. A
// cgroup with processes left cannot be removed; that is not an error here.
func removeCgroupTree(root string) {
	if !exists(root) {
		return
	}
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = unix.Rmdir(d)
	}
}

// LeftOnMachine lists what the node left on the machine after Stop, for a
// test to assert that there is nothing: its processes' PIDs still running,
// mounts under its folder, pod network namespaces, cgroups, shim sockets.
func (n *Node) LeftOnMachine() []string {
	var left []string
	points, _ := mountsUnder(n.opts.Dir)
	pods, _ := mountsUnder(netnsDir)
	for _, p := range pods {
		if strings.HasPrefix(p, netnsDir+"/cni-") && !n.before.NetNS[filepath.Base(p)] {
			points = append(points, p)
		}
	}
	for _, p := range points {
		left = append(left, "mount "+p)
	}
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			if !n.before.NetNS[e.Name()] && strings.HasPrefix(e.Name(), "cni-") {
				left = append(left, "network namespace "+e.Name())
			}
		}
	}
	if hierarchies, err := cgroupHierarchies(); err == nil {
		for _, h := range hierarchies {
			if c := filepath.Join(h, strings.TrimPrefix(n.CgroupRoot(), "/")); exists(c) {
				left = append(left, "cgroup "+c)
			}
		}
	}
	for _, d := range fixedDirs {
		if !n.before.Dirs[d] && exists(d) {
			left = append(left, d)
		}
	}
	for _, p := range n.processes() {
		if !p.Exited() {
			left = append(left, "process "+p.String())
		}
	}
	for _, pid := range n.shims() {
		left = append(left, "containerd shim "+strconv.Itoa(pid))
	}
	return left
}
