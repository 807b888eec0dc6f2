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

// Package node joins a real node to a local cluster: kubelet and kube-proxy
// (built in bin/ from the Kubernetes module) and Debian's containerd, runc
// and CNI plugins, all inside one network namespace (a host of a netlab LAN),
// so that the pods it runs — real containers from images imported with
// `ctr images import` — touch nothing of the machine's own network. The API
// server, a local process in the machine's namespace, is reached through a
// forwarder listening in the node's namespace on the address the API server
// advertises, so the `kubernetes` Service works there through kube-proxy as
// on any node.
//
// Everything the node leaves on the machine outside its folder (mounts, pod
// network namespaces, cgroups, containerd's shim sockets, CNI state) is
// removed by Stop; see Cleanup for what it removes and why.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

// Programs the node runs, and the CNI plugin its network is made of.
const (
	containerdProgram = "containerd"
	runcProgram       = "runc"
	iptablesProgram   = "iptables"
	bridgePlugin      = "bridge"
)

// Binaries are what the node runs from the bin folder (`make node-assets`).
var Binaries = []string{"kubelet", "kube-proxy"}

// Tools are the Debian programs the node runs, by package.
var Tools = map[string]string{
	containerdProgram: containerdProgram, "ctr": containerdProgram, runcProgram: runcProgram,
	"nsenter": "util-linux", iptablesProgram: iptablesProgram, "ip": "iproute2",
}

// CNIBinDir is where Debian's containernetworking-plugins installs the CNI
// plugins (bridge, host-local, loopback).
const CNIBinDir = "/usr/lib/cni"

// Missing says what this machine lacks to run a node: binaries of bin, Debian
// programs or CNI plugins ("" if nothing).
func Missing(bin string) string {
	var missing []string
	for _, b := range testenv.MissingBinaries(bin, Binaries) {
		missing = append(missing, b+" (make node-assets)")
	}
	for _, tool := range []string{containerdProgram, "ctr", runcProgram, "nsenter", iptablesProgram, "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, Tools[tool]))
		}
	}
	for _, plugin := range []string{bridgePlugin, "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(CNIBinDir, plugin)); err != nil {
			missing = append(missing, filepath.Join(CNIBinDir, plugin)+" (Debian package containernetworking-plugins)")
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "missing " + strings.Join(missing, ", ") + "; .ci/run installs the Debian packages"
}

// Options shape a node.
type Options struct {
	// Dir holds everything of the node: containerd's and kubelet's state,
	// configurations, logs, pod logs. Keep it short: containerd's socket
	// lives there (a Unix socket path has at most 107 bytes).
	Dir string
	// Name is the Node's name.
	Name string
	// NetNS is the path of the node's network namespace (e.g. a netlab
	// host's), which must exist.
	NetNS string
	// IP is the node's address in NetNS: its InternalIP, the address of
	// hostNetwork pods.
	IP netip.Addr
	// Kubeconfig is an admin kubeconfig of the cluster (the kubelet and
	// kube-proxy use its credentials).
	Kubeconfig string
	// APIServerIP is the address the API server advertises (its
	// --advertise-address: the endpoint of the `kubernetes` Service). The
	// node's namespace gets it on an interface of its own, with a forwarder
	// to the API server behind it; the API server's certificate must name it.
	APIServerIP netip.Addr
	// PodCIDR is the range the node's pods get addresses from (CNI bridge
	// and host-local IPAM in the node's namespace).
	PodCIDR netip.Prefix
	// Images are OCI archives imported into containerd before the kubelet
	// starts (pods use them with imagePullPolicy IfNotPresent or Never).
	Images []string
	// PauseImage is the name of the sandbox image, one of Images.
	PauseImage string
	// Labels are the Node's labels (--node-labels).
	Labels map[string]string `json:",omitempty"`
	// Detached nodes outlive the process that started them (make demo):
	// their processes get process groups of their own, the API server's
	// relay runs as RelayCommand, and another process stops them (State,
	// Resume).
	Detached bool `json:",omitempty"`
	// RelayCommand, if set, is a program (and its first arguments) that
	// relays the API server into the node's namespace as a process of its
	// own, given --netns, --listen and --to; it calls Relay. Required with
	// Detached.
	RelayCommand []string `json:",omitempty"`
}

// Node is a kubelet node running in its own network namespace.
type Node struct {
	opts Options
	bin  string
	// Containerd, Kubelet and KubeProxy are the node's processes, and
	// Relay the API server's relay when it is a process (RelayCommand).
	Containerd, Kubelet, KubeProxy, Relay *proc.Process
	fwd                                   *cutproxy.Proxy
	before                                snapshot
	kube                                  kubernetes.Interface
}

// Socket is containerd's socket.
func (n *Node) Socket() string { return filepath.Join(n.opts.Dir, "containerd.sock") }

// PodLogsDir is where the kubelet writes the containers' logs
// (<namespace>_<pod>_<uid>/<container>/<restart>.log).
func (n *Node) PodLogsDir() string { return filepath.Join(n.opts.Dir, "pod-logs") }

// CgroupRoot is the cgroup under which the kubelet puts every pod
// (kubepods/...), in each hierarchy.
func (n *Node) CgroupRoot() string { return "/kubevirt-wol-" + n.opts.Name }

// cniNetwork is the CNI network's name (host-local's and libcni's state are
// named after it).
func (n *Node) cniNetwork() string { return "kubevirt-wol-" + n.opts.Name }

// Start starts containerd, imports the images, and starts kubelet and
// kube-proxy, then waits until the Node is Ready. On error, what was started
// is stopped and cleaned up.
func Start(ctx context.Context, bin string, opts Options) (n *Node, err error) {
	if m := Missing(bin); m != "" {
		return nil, errors.New("node: " + m)
	}
	if opts.Dir == "" || opts.Name == "" || opts.NetNS == "" || opts.Kubeconfig == "" ||
		!opts.IP.IsValid() || !opts.APIServerIP.IsValid() || !opts.PodCIDR.IsValid() || opts.PauseImage == "" {
		return nil, errors.New("node: Dir, Name, NetNS, IP, Kubeconfig, APIServerIP, PodCIDR and PauseImage are required")
	}
	if opts.Detached && len(opts.RelayCommand) == 0 {
		return nil, errors.New("node: a detached node needs a RelayCommand")
	}
	if len(filepath.Join(opts.Dir, "containerd.sock.ttrpc")) > 100 {
		return nil, fmt.Errorf("node: folder %s is too long for containerd's socket", opts.Dir)
	}
	n = &Node{opts: opts, bin: bin}
	if n.before, err = takeSnapshot(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Stop()
			n = nil
		}
	}()
	for _, d := range []string{"containerd", "kubelet", "pod-logs", "cni/net.d", "cni/ipam"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return n, err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return n, err
	}
	if n.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return n, err
	}
	if err := n.startForwarder(cfg.Host); err != nil {
		return n, err
	}
	if err := n.makeCgroupRoot(); err != nil {
		return n, err
	}
	if err := n.writeConfigs(); err != nil {
		return n, err
	}
	if err := n.startContainerd(ctx); err != nil {
		return n, err
	}
	for _, img := range opts.Images {
		if out, err := n.ctr(ctx, "images", "import", img); err != nil {
			return n, fmt.Errorf("importing %s: %w\n%s", img, err, out)
		}
	}
	if n.KubeProxy, err = n.inNetNS(filepath.Join(bin, "kube-proxy"), "kube-proxy.log",
		"--config="+n.path("kube-proxy.yaml"), "--v=2"); err != nil {
		return n, err
	}
	if n.Kubelet, err = n.inNetNS(filepath.Join(bin, "kubelet"), "kubelet.log", n.kubeletArgs()...); err != nil {
		return n, err
	}
	return n, n.waitReady(ctx, 2*time.Minute)
}

func (n *Node) path(name string) string { return filepath.Join(n.opts.Dir, name) }

// inNetNS starts binary in the node's network namespace. nsenter, not `ip
// netns exec`: the latter remounts /sys, and the kubelet then cannot find
// the cgroup hierarchies.
func (n *Node) inNetNS(binary, logName string, args ...string) (*proc.Process, error) {
	return proc.Start("nsenter", append([]string{"--net=" + n.opts.NetNS, "--", binary}, args...), nil, n.path(logName), n.opts.Detached)
}

// processes are the node's processes started so far.
func (n *Node) processes() []*proc.Process {
	var out []*proc.Process
	for _, p := range []*proc.Process{n.Containerd, n.Kubelet, n.KubeProxy, n.Relay} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// State is what another process needs to stop a detached node (Resume).
type State struct {
	Options Options `json:"options"`
	// Before is what was on the machine before the node started.
	Before snapshot `json:"before"`
	// PIDs are the node's processes, by log name.
	PIDs map[string]int `json:"pids"`
}

// State describes the node for Resume.
func (n *Node) State() State {
	st := State{Options: n.opts, Before: n.before, PIDs: map[string]int{}}
	for _, p := range n.processes() {
		st.PIDs[filepath.Base(p.Log)] = p.PID()
	}
	return st
}

// Resume returns a node another process started detached, from its State,
// so that Stop stops it and cleans up after it as it would have.
func Resume(bin string, st State) (*Node, error) {
	n := &Node{opts: st.Options, bin: bin, before: st.Before}
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Options.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if n.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	for logName, p := range map[string]**proc.Process{
		"containerd.log": &n.Containerd, "kubelet.log": &n.Kubelet, "kube-proxy.log": &n.KubeProxy, "relay.log": &n.Relay,
	} {
		if pid, ok := st.PIDs[logName]; ok {
			if *p, err = proc.Attach(pid, []string{logName}, n.path(logName)); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// ctr runs containerd's client against the node's containerd, in the CRI
// plugin's namespace.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.Socket(), "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// Ctr runs containerd's client (ctr) against the node's containerd in the
// namespace of the kubelet's containers, and returns its output.
func (n *Node) Ctr(ctx context.Context, args ...string) (string, error) { return n.ctr(ctx, args...) }

func (n *Node) startContainerd(ctx context.Context) error {
	var err error
	if n.Containerd, err = n.inNetNS(containerdProgram, "containerd.log", "--config", n.path("containerd.toml")); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if n.Containerd.Exited() {
			return false, fmt.Errorf("containerd exited:\n%s", tailLines(n.Containerd.Output(), 30))
		}
		_, err := n.ctr(ctx, "version")
		return err == nil, nil
	})
}

func (n *Node) kubeletArgs() []string {
	labels := make([]string, 0, len(n.opts.Labels))
	for k, v := range n.opts.Labels {
		labels = append(labels, k+"="+v)
	}
	args := []string{
		"--config=" + n.path("kubelet.yaml"),
		"--kubeconfig=" + n.path("node.kubeconfig"),
		"--root-dir=" + n.path("kubelet"),
		"--cert-dir=" + n.path("kubelet/pki"),
		"--hostname-override=" + n.opts.Name,
		"--node-ip=" + n.opts.IP.String(),
		"--v=2",
	}
	if len(labels) > 0 {
		args = append(args, "--node-labels="+strings.Join(labels, ","))
	}
	return args
}

// waitReady waits until the Node exists and reports Ready, or a process of
// the node ends.
func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range []*proc.Process{n.Containerd, n.Kubelet, n.KubeProxy} {
			if p.Exited() {
				return false, fmt.Errorf("%s exited:\n%s", filepath.Base(p.Args[3]), tailLines(p.Output(), 40))
			}
		}
		node, err := n.kube.CoreV1().Nodes().Get(ctx, n.opts.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not Ready (%s): %w\nkubelet:\n%s", n.opts.Name, last, err, tailLines(n.Kubelet.Output(), 40))
	}
	return nil
}

// Logs returns the end of each process's log.
func (n *Node) Logs(lines int) string {
	var b strings.Builder
	for _, p := range n.processes() {
		fmt.Fprintf(&b, "===== %s\n%s\n", p, tailLines(p.Output(), lines))
	}
	return b.String()
}

// ContainerLogFiles is the pattern of the files the kubelet writes the log
// of container in pod to (<restart>.log, one per restart).
func (n *Node) ContainerLogFiles(pod *corev1.Pod, container string) string {
	return filepath.Join(n.PodLogsDir(), pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container, "*.log")
}

// ContainerLog returns what the kubelet logged of container in pod
// (namespace/name), every restart in order.
func (n *Node) ContainerLog(pod *corev1.Pod, container string) (string, error) {
	pattern := n.ContainerLogFiles(pod, container)
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no log of %s/%s container %s: nothing matches %s", pod.Namespace, pod.Name, container, pattern)
	}
	// <restart>.log: 10.log comes after 9.log.
	restart := func(f string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".log"))
		return n
	}
	sort.Slice(files, func(i, j int) bool { return restart(files[i]) < restart(files[j]) })
	var b bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.Write(data)
	}
	return b.String(), nil
}

// makeCgroupRoot creates CgroupRoot in every cgroup hierarchy (the kubelet
// wants it to exist), with the cpuset of its parent (a v1 cpuset cgroup
// starts with none, and no process could join it).
func (n *Node) makeCgroupRoot() error {
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hierarchies {
		dir := filepath.Join(h, strings.TrimPrefix(n.CgroupRoot(), "/"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("node: cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			data, err := os.ReadFile(filepath.Join(h, f))
			if err != nil {
				continue // not the cpuset hierarchy
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				return fmt.Errorf("node: cgroup %s: %w", dir, err)
			}
		}
	}
	return nil
}

// apiServerPort is the port of the API server at host (a URL).
func apiServerPort(host string) (string, error) {
	u, err := url.Parse(host)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return "443", nil
	}
	return u.Port(), nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
