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
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
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
		code, _, _ := metrictest.Get(d.httpc, d.base+"/readyz", "")
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
	if code, _, _ := metrictest.Get(d.httpc, d.base+"/metrics", ""); code != 0 {
		note("GET %s/metrics without a token: HTTP %d", d.base, code)
	}
	code, body, err := metrictest.Get(d.httpc, d.base+"/metrics", token)
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
