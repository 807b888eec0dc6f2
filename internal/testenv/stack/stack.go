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

// Package stack installs kubevirt-wol as a user does — `kustomize build
// config/default` applied to a cluster — on a local kwok cluster with real
// KubeVirt (virt-api and virt-controller). Its pods run in one of two ways:
// as real containers on real kubelet nodes it joins (StartNode, package
// node), or, on the nodes kwok simulates (no container runs), as local
// processes with the arguments, environment and ServiceAccount of the pods
// the cluster scheduled (StartOperator, StartListener). `make demo`
// (hack/demo) and the e2e suite (test/e2e) are built on it.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

const (
	// OperatorNamespace is where config/default installs the operator.
	OperatorNamespace = "kubevirt-wol-system"
	// OperatorServiceAccount is the operator's ServiceAccount there.
	OperatorServiceAccount = "kubevirt-wol-controller-manager"
	// OperatorSelector selects the operator's pod.
	OperatorSelector = "control-plane=controller-manager"
)

// Options shape a Stack.
type Options struct {
	// Dir holds the cluster's state, the kubeconfigs and the processes'
	// logs.
	Dir string
	// Name is the kwok cluster's name.
	Name string
	// Nodes is the number of simulated nodes KubeVirt can schedule on.
	Nodes int
	// FieldOwner is the field manager the installation is applied with.
	FieldOwner string
	// Detached processes outlive this one (the demo leaves them running
	// until `make demo-down`).
	Detached bool
	// Started, if set, is told the PID of every process the stack starts,
	// as soon as it runs (the demo records them to stop them later).
	Started func(pid int) error
	// RealNodes prepares the cluster for real kubelet nodes (StartNode):
	// the API server advertises NodeAPIServerIP, its certificate names that
	// address and the `kubernetes` Service's, and kwok simulates only the
	// nodes it creates.
	RealNodes bool
}

// The addresses of a cluster with real nodes. They exist only inside the
// nodes' network namespaces.
var (
	// NodeAPIServerIP is where a real node reaches the API server (the
	// `kubernetes` Service's endpoint).
	NodeAPIServerIP = netip.MustParseAddr("10.251.255.1")
	// ServiceCIDR is the Services' range; the `kubernetes` Service gets its
	// first address.
	ServiceCIDR = netip.MustParsePrefix("10.251.0.0/24")
	// PodCIDR is the range of the pods of the (one) real node.
	PodCIDR = netip.MustParsePrefix("10.252.0.0/24")
)

// Stack is the product installed on a local cluster.
type Stack struct {
	opts Options
	bin  string
	// Cluster is the kwok cluster.
	Cluster *kwokcluster.Cluster
	// KubeVirt is KubeVirt's control plane.
	KubeVirt *kubevirtcp.ControlPlane
	// Admin is the cluster's admin configuration.
	Admin *rest.Config
	// Client is an admin client knowing the core, KubeVirt and WolConfig
	// types.
	Client client.Client
	// Operator is the operator's process, once StartOperator has run.
	Operator *proc.Process
	// Nodes are the real nodes StartNode joined.
	Nodes []*node.Node
}

// New prepares a stack; nothing runs until StartCluster.
func New(opts Options) (*Stack, error) {
	if opts.Dir == "" || opts.Name == "" || opts.FieldOwner == "" {
		return nil, errors.New("stack: Dir, Name and FieldOwner are required")
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "kubevirt"), 0o755); err != nil {
		return nil, err
	}
	kv, err := kubevirtcp.New(filepath.Join(opts.Dir, "kubevirt"), kubevirtcp.Options{Detached: opts.Detached})
	if err != nil {
		return nil, err
	}
	return &Stack{opts: opts, bin: testenv.BinDir(), KubeVirt: kv}, nil
}

// Kubeconfig is where StartCluster writes the admin kubeconfig (known
// before the cluster exists, so that an interrupted start can be cleaned
// up).
func (s *Stack) Kubeconfig() string {
	return filepath.Join(s.opts.Dir, "kwok", s.opts.Name+".kubeconfig")
}

// StartCluster creates the kwok cluster, its nodes labelled as KubeVirt
// labels schedulable nodes, and kube-apiserver configured for KubeVirt's
// aggregated API.
func (s *Stack) StartCluster(ctx context.Context) error {
	opts := kwokcluster.Options{Nodes: s.opts.Nodes, KubeVirtNodes: true, APIServerArgs: s.KubeVirt.APIServerArgs()}
	if s.opts.RealNodes {
		opts.RealNodes = true
		opts.APIServerArgs["advertise-address"] = []string{NodeAPIServerIP.String()}
		opts.APIServerArgs["service-cluster-ip-range"] = []string{ServiceCIDR.String()}
		opts.CertSANs = []string{NodeAPIServerIP.String(), ServiceCIDR.Addr().Next().String()}
	}
	cluster, err := kwokcluster.Create(ctx, s.bin, filepath.Join(s.opts.Dir, "kwok"), s.opts.Name, opts)
	if err != nil {
		return err
	}
	s.Cluster = cluster
	if s.Admin, err = cluster.RestConfig(); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, kubevirtv1.AddToScheme, wolv1beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	s.Client, err = client.New(s.Admin, client.Options{Scheme: scheme})
	return err
}

// SetNodeAddresses gives the kwok node the InternalIP addresses ips (and
// its name as Hostname) in place of those kwok made up (192.0.2.x,
// 2001:db8::x), say those of the network namespace standing in for the
// node. kwok gives a hostNetwork pod its node's address when the pod is
// created, so a listener pod scheduled there afterwards has the address its
// process serves on, and whatever discovers it through the API
// (EndpointSlices, Prometheus) reaches it. kwok's heartbeats keep the
// addresses a node has.
func (s *Stack) SetNodeAddresses(ctx context.Context, nodeName string, ips ...netip.Addr) error {
	addrs := make([]corev1.NodeAddress, 0, len(ips)+1)
	for _, ip := range ips {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: nodeName})
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"addresses": addrs}})
	if err != nil {
		return err
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}
	// A merge patch replaces the whole list.
	if err := s.Client.Status().Patch(ctx, n, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("node %s: %w", nodeName, err)
	}
	return nil
}

// NodeOptions shape a real node (StartNode).
type NodeOptions struct {
	// Name is the Node's name.
	Name string
	// NetNS is the path of the node's network namespace (a netlab host's)
	// and IP its address there.
	NetNS string
	IP    netip.Addr
	// PauseImage names the pod sandbox image, in the archive PauseArchive.
	PauseImage, PauseArchive string
	// Images are more image archives to import (the project's image).
	Images []string
	// Labels are the Node's labels.
	Labels map[string]string
	// RelayCommand relays the API server into the node's namespace as a
	// process of its own (node.Options.RelayCommand); required when the
	// stack is Detached.
	RelayCommand []string
}

// StartNode joins a real kubelet node (package node) to a cluster started
// with Options.RealNodes, and waits until it is Ready. Stop stops it; a
// detached stack's caller keeps the node's State to stop it later (its
// processes are not told to Options.Started).
func (s *Stack) StartNode(ctx context.Context, o NodeOptions) (*node.Node, error) {
	if !s.opts.RealNodes {
		return nil, errors.New("stack: StartNode needs Options.RealNodes")
	}
	n, err := node.Start(ctx, s.bin, node.Options{
		Dir: filepath.Join(s.opts.Dir, "node-"+o.Name), Name: o.Name, NetNS: o.NetNS, IP: o.IP,
		Kubeconfig: s.Kubeconfig(), APIServerIP: NodeAPIServerIP, PodCIDR: PodCIDR,
		Images: append([]string{o.PauseArchive}, o.Images...), PauseImage: o.PauseImage, Labels: o.Labels,
		Detached: s.opts.Detached, RelayCommand: o.RelayCommand,
	})
	if err != nil {
		return nil, err
	}
	s.Nodes = append(s.Nodes, n)
	return n, nil
}

// AddSimulatedNodes brings the number of kwok nodes to n, each one KubeVirt
// schedules on.
func (s *Stack) AddSimulatedNodes(ctx context.Context, n int) error {
	return s.Cluster.AddNodes(ctx, n, true)
}

// StartKubeVirt installs KubeVirt and runs virt-api and virt-controller.
func (s *Stack) StartKubeVirt(ctx context.Context) error {
	err := s.KubeVirt.Start(ctx, s.Admin)
	if api, ctrl := s.KubeVirt.Processes(); api != nil && ctrl != nil {
		if serr := s.started(api, ctrl); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// Install applies `kustomize build config/default`, as `make deploy` does.
// operatorArgs, if any, are appended to the operator container's arguments
// the way a user customizes an installation: by a kustomize overlay on
// config/default with a JSON patch, built in a temporary folder.
func (s *Stack) Install(ctx context.Context, operatorArgs ...string) error {
	dir := filepath.Join(testenv.RepoRoot(), "config", "default")
	if len(operatorArgs) > 0 {
		overlay, err := os.MkdirTemp(s.opts.Dir, "overlay-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(overlay) }()
		// kustomize takes a base by a relative path only.
		base, err := filepath.Rel(overlay, dir)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), operatorOverlay(base, operatorArgs), 0o644); err != nil {
			return err
		}
		dir = overlay
	}
	out, err := exec.CommandContext(ctx, filepath.Join(s.bin, "kustomize"), "build", dir).Output()
	if err != nil {
		return fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return kwokcluster.Apply(ctx, s.Admin, out, s.opts.FieldOwner)
}

// operatorOverlay is a kustomization of base appending args to the
// operator container's arguments.
func operatorOverlay(base string, args []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\npatches:\n", base)
	fmt.Fprintf(&b, "- target:\n    kind: Deployment\n    labelSelector: %s\n  patch: |-\n", OperatorSelector)
	for _, a := range args {
		fmt.Fprintf(&b, "    - op: add\n      path: /spec/template/spec/containers/0/args/-\n      value: %q\n", a)
	}
	return []byte(b.String())
}

// StartOperator waits for the operator's pod and runs bin/manager with that
// pod's arguments and environment, as its ServiceAccount. The process
// shares this machine's network, so its probe and metrics addresses move
// to free loopback ports; extra arguments are appended.
func (s *Stack) StartOperator(ctx context.Context, extra ...string) error {
	pods, err := s.WaitPods(ctx, OperatorNamespace, OperatorSelector, 1, 2*time.Minute)
	if err != nil {
		return fmt.Errorf("the operator's pod: %w", err)
	}
	args := append([]string{"--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0"}, extra...)
	s.Operator, err = s.run(ctx, &pods[0], "manager", "operator.log", args...)
	return err
}

// StartListener runs bin/listener for pod, one of a listener Deployment's,
// with its arguments and environment, as its ServiceAccount; its output
// goes to logName in the stack's directory. extra arguments are appended
// (--netns to put it on a node's network namespace, say). The caller stops
// it.
func (s *Stack) StartListener(ctx context.Context, pod *corev1.Pod, logName string, extra ...string) (*proc.Process, error) {
	return s.run(ctx, pod, "listener", logName, extra...)
}

// run starts container's program of pod as pod's ServiceAccount.
func (s *Stack) run(ctx context.Context, pod *corev1.Pod, container, logName string, extra ...string) (*proc.Process, error) {
	sa := pod.Spec.ServiceAccountName
	// One file per pod, as each pod gets its own token: two listeners of one
	// Deployment share a ServiceAccount, and rewriting a shared file while
	// the first one reads it left that one with an empty configuration.
	kc := filepath.Join(s.opts.Dir, pod.Namespace+"."+pod.Name+".kubeconfig")
	if err := s.Cluster.ServiceAccountKubeconfig(ctx, pod.Namespace, sa, kc); err != nil {
		return nil, err
	}
	binary, args, env, err := kwokcluster.CommandFor(s.bin, pod, container, append([]string{"--kubeconfig=" + kc}, extra...)...)
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(binary, args, env, filepath.Join(s.opts.Dir, logName), s.opts.Detached)
	if err != nil {
		return nil, err
	}
	return p, s.started(p)
}

func (s *Stack) started(ps ...*proc.Process) error {
	if s.opts.Started == nil {
		return nil
	}
	for _, p := range ps {
		if err := s.opts.Started(p.Cmd.Process.Pid); err != nil {
			return err
		}
	}
	return nil
}

// Pods lists the Running pods of namespace matching selector that are not
// being deleted.
func (s *Stack) Pods(ctx context.Context, namespace, selector string) ([]corev1.Pod, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, err
	}
	list := &corev1.PodList{}
	if err := s.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// WaitPods waits up to timeout until Pods returns at least n pods.
func (s *Stack) WaitPods(ctx context.Context, namespace, selector string, n int, timeout time.Duration) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		pods, err = s.Pods(ctx, namespace, selector)
		return len(pods) >= n, err
	})
	if err != nil {
		return nil, fmt.Errorf("%d Running pods %s in %s after %s: %w", len(pods), selector, namespace, timeout, err)
	}
	return pods, nil
}

// Stop stops the real nodes (cleaning up after them), the operator and
// KubeVirt, and deletes the cluster.
func (s *Stack) Stop() error {
	for _, n := range s.Nodes {
		n.Stop()
	}
	s.Nodes = nil
	if s.Operator != nil {
		s.Operator.Stop()
	}
	s.KubeVirt.Stop()
	if s.Cluster != nil {
		return s.Cluster.Delete()
	}
	return nil
}
