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

// Command demo runs kubevirt-wol end to end on this machine (`make demo`)
// and tears it down again (`make demo-down`): a kwok cluster of real
// control-plane binaries, real KubeVirt (virt-api and virt-controller),
// sample VMs, and a real magic packet. Run as root with Debian's containerd,
// runc and CNI plugins, it joins a real kubelet node in a network namespace
// of its own, and the operator and the listener run there as real pods from
// the image of `make image`; otherwise they run as local processes started
// with their pods' arguments, and every node is simulated.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const (
	clusterName = "wol-demo"
	operatorNS  = stack.OperatorNamespace
	fieldOwner  = "kubevirt-wol-demo"
	demoMAC     = "52:54:00:12:34:56"
	unprivPort  = 40009
)

// state is what `make demo-down` needs to clean up, in .demo/state.json.
type state struct {
	Workdir    string   `json:"workdir"`
	Kubeconfig string   `json:"kubeconfig"`
	PIDs       []int    `json:"pids"`
	Namespaces []string `json:"namespaces"`
	// Node is the real node, if one joined: stopped and cleaned up first.
	Node *node.State `json:"node,omitempty"`
}

var (
	root      = testenv.RepoRoot()
	bin       = testenv.BinDir()
	demoDir   = filepath.Join(root, ".demo")
	stateFile = filepath.Join(demoDir, "state.json")
)

func main() {
	cmd := "up"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "up":
		err = up()
	case "down":
		err = down()
	case "relay":
		err = relay(os.Args[2:])
	default:
		err = fmt.Errorf("usage: demo [up|down]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(n int, format string, args ...any) {
	fmt.Printf("\n\033[1m[%d] %s\033[0m\n", n, fmt.Sprintf(format, args...))
}

func note(format string, args ...any) { fmt.Printf("    %s\n", fmt.Sprintf(format, args...)) }

func saveState(st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(stateFile, data, 0o600)
}

// demo is one `make demo` run: what each step builds and the next one uses.
type demo struct {
	ctx   context.Context
	st    *state
	stk   *stack.Stack
	start time.Time
	// lan is the sender/node LAN when running as root, nil otherwise.
	lan  *netlab.LAN
	port int
	wc   *wolv1beta1.WolConfig
	// realNode runs the operator and the listener as real pods when root
	// has what it needs (noNode says what is missing otherwise); without
	// it, lst is the listener's process.
	realNode    *node.Node
	noNode      string
	listenerPod *corev1.Pod
	lst         *proc.Process
	// httpc reaches the listener's HTTPS endpoint at base.
	httpc *http.Client
	base  string
}

const (
	demoVMNamespace = "default"
	demoVMName      = "fedora-desktop"
)

func up() error {
	if _, err := os.Stat(stateFile); err == nil {
		return fmt.Errorf("a demo is already running (%s): run `make demo-down` first", stateFile)
	}
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return err
	}
	d := &demo{st: &state{Workdir: filepath.Join(demoDir, "kwok")}, port: 9}
	d.noNode = realNodeProblem()
	nodes := 2
	if d.noNode == "" {
		nodes = 0 // added once the operator runs on the real node
	}
	var err error
	d.stk, err = stack.New(stack.Options{
		Dir: demoDir, Name: clusterName, Nodes: nodes, FieldOwner: fieldOwner, Detached: true, RealNodes: d.noNode == "",
		// Every process is recorded as soon as it runs, for demo-down.
		Started: func(pid int) error {
			d.st.PIDs = append(d.st.PIDs, pid)
			return saveState(d.st)
		},
	})
	if err != nil {
		return err
	}
	// Recorded before the cluster exists, so an interrupted start is
	// cleaned up too.
	d.st.Kubeconfig = d.stk.Kubeconfig()
	if err := saveState(d.st); err != nil {
		return err
	}
	ok := false
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		if !ok {
			fmt.Println("\nCleaning up...")
			_ = down()
		}
	}()
	d.ctx = ctx
	d.start = time.Now()
	for _, run := range []func() error{
		d.buildLAN, d.startCluster, d.createVMs, d.applyWolConfig, d.runListener, d.wake, d.report,
	} {
		if err := run(); err != nil {
			return err
		}
	}
	d.hints()
	ok = true
	return nil
}

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

// buildLAN makes the LAN of network namespaces when root can: the
// listener's node and a sender on one bridge.
func (d *demo) buildLAN() error {
	if netlab.Problem() != "" {
		return nil
	}
	var err error
	if d.lan, err = netlab.New("node0", "sender"); err != nil {
		return err
	}
	d.st.Namespaces = d.lan.Namespaces()
	return saveState(d.st)
}

// startCluster is steps 1-4: the cluster (and the real node), KubeVirt, the
// install and the operator.
func (d *demo) startCluster() error {
	step(1, "Starting a local cluster (kwok, binary runtime)")
	if d.noNode == "" {
		note("real etcd, kube-apiserver, kube-controller-manager and kube-scheduler from bin/; a REAL kubelet node " +
			"runs the operator and the listener; simulated nodes (kwok) carry the VMs' launcher pods")
	} else {
		note("real etcd, kube-apiserver, kube-controller-manager and kube-scheduler from bin/; " +
			"nodes and pods are SIMULATED by kwok (no container runs)")
		note("no real node: %s", d.noNode)
	}
	if err := d.stk.StartCluster(d.ctx); err != nil {
		return err
	}
	if d.noNode == "" {
		if err := d.joinNode(); err != nil {
			return err
		}
	} else {
		note("cluster up in %s; 2 simulated nodes", time.Since(d.start).Round(time.Second))
	}

	step(2, "Installing real KubeVirt %s: virt-api and virt-controller", kubevirtcp.Version())
	note("as virt-operator installs it (KubeVirt's own CRDs, RBAC, APIServices and admission webhooks); " +
		"both run as local processes, each as its ServiceAccount")
	kvStart := time.Now()
	if err := d.stk.StartKubeVirt(d.ctx); err != nil {
		return err
	}
	note("KubeVirt ready in %s: the start subresource is served through kube-apiserver",
		time.Since(kvStart).Round(time.Second))
	note("there is NO virt-handler (it needs a real node with KVM): a started VM gets its " +
		"VirtualMachineInstance and virt-launcher pod, scheduled on a simulated node, and stops at phase Scheduled")

	step(3, "Installing the operator (kustomize build config/default)")
	if err := d.stk.Install(d.ctx); err != nil {
		return err
	}
	if d.realNode != nil {
		return d.operatorPod()
	}

	step(4, "Running the operator as a local process, with its pod's arguments and ServiceAccount")
	if err := d.stk.StartOperator(d.ctx); err != nil {
		return err
	}
	note("%s", d.stk.Operator)
	note("(only the probe and metrics addresses moved to free loopback ports: " +
		"the process shares this machine's network)")
	return nil
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
	if n != nil {
		st := n.State()
		d.st.Node = &st
		if serr := saveState(d.st); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		return err
	}
	d.realNode = n
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

// createVMs is step 5.
func (d *demo) createVMs() error {
	step(5, "Creating sample VirtualMachines")
	prod := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}}
	if err := d.stk.Client.Create(d.ctx, prod); err != nil {
		return err
	}
	vms := []*kubevirtv1.VirtualMachine{
		sampleVM(demoVMNamespace, demoVMName, demoMAC, kubevirtv1.RunStrategyHalted),
		sampleVM(demoVMNamespace, "build-runner", "52:54:00:12:34:57", kubevirtv1.RunStrategyManual),
		sampleVM(demoVMNamespace, "no-fixed-mac", "", kubevirtv1.RunStrategyHalted),
		sampleVM("production", "db-replica", "52:54:00:ab:cd:01", kubevirtv1.RunStrategyHalted),
	}
	for _, v := range vms {
		if err := d.stk.Client.Create(d.ctx, v); err != nil {
			return err
		}
		mac := "(none: KubeVirt would generate one at every start)"
		if ifs := v.Spec.Template.Spec.Domain.Devices.Interfaces; len(ifs) > 0 && ifs[0].MacAddress != "" {
			mac = ifs[0].MacAddress
		}
		note("%-12s %-16s runStrategy=%-8s mac=%s", v.Namespace, v.Name, *v.Spec.RunStrategy, mac)
	}
	return nil
}

// applyWolConfig is step 6: the sample WolConfig, and the LAN its listener
// will be on.
func (d *demo) applyWolConfig() error {
	step(6, "Applying the sample WolConfig (config/samples/wol_v1beta1_wolconfig_all.yaml)")
	d.wc = &wolv1beta1.WolConfig{}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "wol_v1beta1_wolconfig_all.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, d.wc); err != nil {
		return err
	}
	// Root has a LAN of network namespaces and binds port 9; anyone else
	// gets loopback and an unprivileged port.
	if d.lan != nil {
		nodeHost, sender := d.lan.Host("node0"), d.lan.Host("sender")
		note("running as root: the listener's node is network namespace %s (%s), "+
			"the sender is %s (%s), joined by a bridge", nodeHost.NS, nodeHost.IP, sender.NS, sender.IP)
	} else {
		d.port = unprivPort
		d.wc.Spec.WolPorts = []int32{unprivPort}
		note("not root: no network namespaces, so the listener uses this machine's network "+
			"with UDP port %d instead of 9 and raw mode stays off", unprivPort)
	}
	if d.realNode != nil {
		d.wc.Spec.Listener.NodeSelector = map[string]string{corev1.LabelHostname: realNodeName}
		note("listener.nodeSelector set to %s=%s: the listener goes to the real node", corev1.LabelHostname, realNodeName)
	}
	if err := d.stk.Client.Create(d.ctx, d.wc); err != nil {
		return err
	}
	note("discoveryMode=%s namespaceSelectors=%v wolPorts=%v",
		d.wc.Spec.DiscoveryMode, d.wc.Spec.NamespaceSelectors, d.wc.Spec.WolPorts)
	return nil
}

// runListener is steps 7-8: the operator's Deployment, then the listener
// run with its pod's arguments until it and the WolConfig are Ready.
func (d *demo) runListener() error {
	c := d.stk.Client
	step(7, "Waiting for the operator's listener Deployment to be scheduled and Available")
	deployName := "wol-listener-" + d.wc.Name
	if err := waitFor(d.ctx, 2*time.Minute, func() (bool, error) {
		dep := &appsv1.Deployment{}
		if err := c.Get(d.ctx, client.ObjectKey{Namespace: operatorNS, Name: deployName}, dep); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return dep.Status.AvailableReplicas >= 1, nil
	}); err != nil {
		return fmt.Errorf("listener Deployment: %w (see %s)", err, d.operatorLog())
	}
	pods, err := d.stk.WaitPods(d.ctx, operatorNS, "app.kubernetes.io/instance="+d.wc.Name, 1, 2*time.Minute)
	if err != nil {
		return err
	}
	if d.realNode != nil {
		d.listenerPod = &pods[0]
		note("Deployment %s/%s is Available: pod %s runs on %s as a REAL hostNetwork container, "+
			"Ready through the kubelet's HTTPS readiness probe", operatorNS, deployName, pods[0].Name, pods[0].Spec.NodeName)
		sc := pods[0].Spec.Containers[0].SecurityContext
		note("enforced by the kubelet and runc: UID %d, capabilities drop %v add %v, read-only root filesystem %v, "+
			"no privilege escalation, seccomp %s", ptr.Deref(sc.RunAsUser, 0), sc.Capabilities.Drop, sc.Capabilities.Add,
			ptr.Deref(sc.ReadOnlyRootFilesystem, false), sc.SeccompProfile.Type)
		step(8, "Checking the listener from the sender's namespace, as the LAN sees it")
	} else {
		note("Deployment %s/%s is Available: pod %s scheduled on %s (simulated)",
			operatorNS, deployName, pods[0].Name, pods[0].Spec.NodeName)

		step(8, "Running the listener as a local process, with that pod's arguments and ServiceAccount")
		var extra []string
		if d.lan != nil {
			extra = append(extra, "--netns="+d.lan.Host("node0").Path())
		}
		if d.lst, err = d.stk.StartListener(d.ctx, &pods[0], "listener.log", extra...); err != nil {
			return err
		}
		note("%s", d.lst)
	}
	metricsHost := "127.0.0.1"
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if d.lan != nil {
		metricsHost = d.lan.Host("node0").IP.String()
		dial = d.lan.Host("sender").DialContext
	}
	d.httpc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: dial,
		// The listener's certificate is self-signed.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	d.base = "https://" + net.JoinHostPort(metricsHost, fmt.Sprint(wolv1beta1.DefaultMetricsPort))
	if err := waitFor(d.ctx, time.Minute, func() (bool, error) {
		code, _, _ := get(d.httpc, d.base+"/readyz", "")
		return code == http.StatusOK, nil
	}); err != nil {
		return fmt.Errorf("listener not ready: %w (see %s)", err, d.listenerLogPath())
	}
	if err := waitFor(d.ctx, time.Minute, func() (bool, error) {
		if err := c.Get(d.ctx, client.ObjectKeyFromObject(d.wc), d.wc); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(d.wc.Status.Conditions, wolv1beta1.ConditionReady) &&
			d.wc.Status.ManagedVMs == 3, nil
	}); err != nil {
		return fmt.Errorf("WolConfig not Ready: %w", err)
	}
	note("listener ready (sockets bound, VM index synced)")
	note("WolConfig %s: Ready=True managedVMs=%d notWakeable=%v",
		d.wc.Name, d.wc.Status.ManagedVMs, d.wc.Status.NotWakeableVMs)
	return nil
}

// wake is step 9 and the first part of step 10: a real magic packet, and
// the VM's run strategy changed by real virt-api.
func (d *demo) wake() error {
	step(9, "Sending a real magic packet for %s (%s/%s)", demoMAC, demoVMNamespace, demoVMName)
	before := runStrategyOf(d.ctx, d.stk.Client, demoVMNamespace, demoVMName)
	sendCmd, err := sendMagic(d.lan, d.port, demoMAC)
	if err != nil {
		return err
	}
	note("$ %s", sendCmd)

	step(10, "What happened")
	var after kubevirtv1.VirtualMachineRunStrategy
	if err := waitFor(d.ctx, 30*time.Second, func() (bool, error) {
		after = runStrategyOf(d.ctx, d.stk.Client, demoVMNamespace, demoVMName)
		return after == kubevirtv1.RunStrategyAlways, nil
	}); err != nil {
		return fmt.Errorf("the VM was not started: %w (see %s)", err, d.listenerLogPath())
	}
	for _, line := range strings.Split(d.listenerLog(), "\n") {
		if strings.Contains(line, "VM started") {
			note("listener log: %s", strings.TrimSpace(criMessage(line)))
		}
	}
	note("the listener called KubeVirt's start subresource "+
		"(PUT /apis/subresources.kubevirt.io/v1/namespaces/%s/virtualmachines/%s/start), as `virtctl start` does;",
		demoVMNamespace, demoVMName)
	note("real virt-api set VM %s/%s's runStrategy %s -> %s", demoVMNamespace, demoVMName, before, after)
	return nil
}

// report is the rest of step 10: what virt-controller made of the start,
// the VM's events and the listener's metrics.
func (d *demo) report() error {
	c, key := d.stk.Client, client.ObjectKey{Namespace: demoVMNamespace, Name: demoVMName}
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := waitFor(d.ctx, 30*time.Second, func() (bool, error) {
		if err := c.Get(d.ctx, key, vmi); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return vmi.Status.Phase == kubevirtv1.Scheduled, nil
	}); err != nil {
		return fmt.Errorf("no VirtualMachineInstance reached Scheduled: %w (see %s)",
			err, filepath.Join(demoDir, "kubevirt"))
	}
	vm := &kubevirtv1.VirtualMachine{}
	if err := c.Get(d.ctx, key, vm); err != nil {
		return err
	}
	note("real virt-controller created VirtualMachineInstance %s: phase %s on node %s; the VM's status is %q",
		key, vmi.Status.Phase, vmi.Status.NodeName, vm.Status.PrintableStatus)
	launchers := &corev1.PodList{}
	if err := c.List(d.ctx, launchers, client.InNamespace(demoVMNamespace),
		client.MatchingLabels{kubevirtv1.CreatedByLabel: string(vmi.UID)}); err != nil {
		return err
	}
	for _, p := range launchers.Items {
		note("its virt-launcher pod %s: %s on %s "+
			"(SIMULATED by kwok; no virt-handler, so the instance stays Scheduled and no guest boots)",
			p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	events := &corev1.EventList{}
	if err := c.List(d.ctx, events, client.InNamespace(demoVMNamespace)); err != nil {
		return err
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name == demoVMName {
			note("Event on the VM: %s %s: %s", e.Type, e.Reason, e.Message)
		}
	}
	token, err := metricsToken(d.ctx, c, d.stk.Admin)
	if err != nil {
		return err
	}
	if code, _, _ := get(d.httpc, d.base+"/metrics", ""); code != 0 {
		note("GET %s/metrics without a token: HTTP %d", d.base, code)
	}
	code, body, err := get(d.httpc, d.base+"/metrics", token)
	if err != nil {
		return err
	}
	note("GET %s/metrics with a metrics-reader ServiceAccount token: HTTP %d", d.base, code)
	shown := []string{"wol_packets_total{", "wol_vm_started_total{", "wol_managed_vms ", "wol_wake_lookups_total{"}
	for _, line := range strings.Split(body, "\n") {
		for _, m := range shown {
			if strings.HasPrefix(line, m) && !strings.HasSuffix(line, " 0") {
				note("  %s", line)
			}
		}
	}
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
		return d.containerLogs(d.listenerPod, "listener")
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
	return d.containerLogs(&pods[0], "manager")
}

// containerLogs are the log files the real node's kubelet writes for a
// container (one per restart).
func (d *demo) containerLogs(pod *corev1.Pod, container string) string {
	return filepath.Join(d.realNode.PodLogsDir(), pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container, "*.log")
}

// hints is step 11: what to try while the demo keeps running.
func (d *demo) hints() {
	step(11, "The demo keeps running (took %s). Try more:", time.Since(d.start).Round(time.Second))
	fmt.Printf("    export KUBECONFIG=%s PATH=%s:$PATH\n", d.stk.Cluster.Kubeconfig, bin)
	fmt.Println("    kubectl get wolconfig,vm,vmi -A")
	fmt.Println("    kubectl get wolconfig wol-config -o yaml      # status: conditions, managedVMs, notWakeableVMs")
	if d.lan != nil {
		sender := d.lan.Host("sender").NS
		fmt.Printf("    sudo ip netns exec %s wakeonlan -i %s 52:54:00:ab:cd:01   # wakes production/db-replica\n",
			sender, netlab.Broadcast)
		fmt.Printf("    sudo ip netns exec %s etherwake -i %s -b 52:54:00:12:34:57   "+
			"# raw frame: enable spec.rawEthernet first\n", sender, netlab.Iface)
	} else {
		fmt.Printf("    wakeonlan -i 127.0.0.1 -p %d 52:54:00:ab:cd:01   # wakes production/db-replica\n", unprivPort)
	}
	fmt.Printf("    tail -f %s %s\n", d.listenerLogPath(), d.operatorLog())
	if d.realNode != nil {
		fmt.Printf("    sudo ctr --address %s --namespace k8s.io tasks ls   # the real node's containers\n",
			d.realNode.Socket())
	}
	fmt.Println("    make demo-down                                 # stops everything and removes the cluster")
}

func sampleVM(ns, name, mac string, strategy kubevirtv1.VirtualMachineRunStrategy) *kubevirtv1.VirtualMachine {
	opts := []vmfixture.Option{vmfixture.RunStrategy(strategy)}
	if mac != "" {
		opts = append(opts, vmfixture.MACs(mac))
	}
	return vmfixture.New(ns, name, opts...)
}

func runStrategyOf(ctx context.Context, c client.Client, ns, name string) kubevirtv1.VirtualMachineRunStrategy {
	v := &kubevirtv1.VirtualMachine{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, v); err != nil || v.Spec.RunStrategy == nil {
		return ""
	}
	return *v.Spec.RunStrategy
}

// sendMagic sends the packet with Debian's wakeonlan when it is installed,
// else with a few lines of Go, and returns what it ran.
func sendMagic(lan *netlab.LAN, port int, mac string) (string, error) {
	if lan != nil {
		out, err := lan.Exec("sender", "wakeonlan", "-i", netlab.Broadcast.String(), "-p", fmt.Sprint(port), mac)
		if err != nil {
			return "", fmt.Errorf("%w (apt-get install wakeonlan)", err)
		}
		return fmt.Sprintf(
			"ip netns exec %s wakeonlan -i %s %s   # %s",
			lan.Host("sender").NS,
			netlab.Broadcast,
			mac,
			strings.TrimSpace(out),
		), nil
	}
	if path, err := exec.LookPath("wakeonlan"); err == nil {
		out, err := exec.Command(path, "-i", "127.0.0.1", "-p", fmt.Sprint(port), mac).CombinedOutput()
		return fmt.Sprintf("wakeonlan -i 127.0.0.1 -p %d %s   # %s", port, mac, strings.TrimSpace(string(out))), err
	}
	m, err := wol.ParseMAC(mac)
	if err != nil {
		return "", err
	}
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write(wol.AppendMagic(nil, m, nil)); err != nil {
		return "", err
	}
	return fmt.Sprintf(
		"(wakeonlan is not installed: sent the same 102-byte magic packet from Go to 127.0.0.1:%d)",
		port,
	), nil
}

// metricsToken returns a token for a ServiceAccount bound to the operator's
// metrics-reader ClusterRole, as Prometheus would have.
func metricsToken(ctx context.Context, c client.Client, admin *rest.Config) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "demo-prometheus"}}
	if err := c.Create(ctx, sa); err != nil {
		return "", err
	}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubevirt-wol-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNS, Name: sa.Name}},
	}); err != nil {
		return "", err
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return "", err
	}
	tr, err := kube.CoreV1().ServiceAccounts(operatorNS).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

func get(c *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

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

func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
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
