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
// control-plane binaries with simulated nodes, real KubeVirt (virt-api and
// virt-controller), the operator and a listener as local processes started
// with their pods' arguments, sample VMs, and a real magic packet.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
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

func up() error {
	if _, err := os.Stat(stateFile); err == nil {
		return fmt.Errorf("a demo is already running (%s): run `make demo-down` first", stateFile)
	}
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return err
	}
	st := &state{Workdir: filepath.Join(demoDir, "kwok")}
	stk, err := stack.New(stack.Options{
		Dir: demoDir, Name: clusterName, Nodes: 2, FieldOwner: fieldOwner, Detached: true,
		// Every process is recorded as soon as it runs, for demo-down.
		Started: func(pid int) error {
			st.PIDs = append(st.PIDs, pid)
			return saveState(st)
		},
	})
	if err != nil {
		return err
	}
	// Recorded before the cluster exists, so an interrupted start is
	// cleaned up too.
	st.Kubeconfig = stk.Kubeconfig()
	if err := saveState(st); err != nil {
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

	// Root can build a LAN of network namespaces and bind port 9; anyone
	// else gets loopback and an unprivileged port.
	privileged := netlab.Problem() == ""
	start := time.Now()

	step(1, "Starting a local cluster (kwok, binary runtime)")
	note("real etcd, kube-apiserver, kube-controller-manager and kube-scheduler from bin/; " +
		"nodes and pods are SIMULATED by kwok (no container runs)")
	if err := stk.StartCluster(ctx); err != nil {
		return err
	}
	c, admin := stk.Client, stk.Admin
	note("cluster up in %s; 2 simulated nodes", time.Since(start).Round(time.Second))

	step(2, "Installing real KubeVirt %s: virt-api and virt-controller", kubevirtcp.Version())
	note("as virt-operator installs it (KubeVirt's own CRDs, RBAC, APIServices and admission webhooks); " +
		"both run as local processes, each as its ServiceAccount")
	kvStart := time.Now()
	if err := stk.StartKubeVirt(ctx); err != nil {
		return err
	}
	note("KubeVirt ready in %s: the start subresource is served through kube-apiserver",
		time.Since(kvStart).Round(time.Second))
	note("there is NO virt-handler (it needs a real node with KVM): a started VM gets its " +
		"VirtualMachineInstance and virt-launcher pod, scheduled on a simulated node, and stops at phase Scheduled")

	step(3, "Installing the operator (kustomize build config/default)")
	if err := stk.Install(ctx); err != nil {
		return err
	}

	step(4, "Running the operator as a local process, with its pod's arguments and ServiceAccount")
	if err := stk.StartOperator(ctx); err != nil {
		return err
	}
	op := stk.Operator
	note("%s", op)
	note("(only the probe and metrics addresses moved to free loopback ports: " +
		"the process shares this machine's network)")

	step(5, "Creating sample VirtualMachines")
	for _, ns := range []string{"production"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	vms := []*kubevirtv1.VirtualMachine{
		sampleVM("default", "fedora-desktop", demoMAC, kubevirtv1.RunStrategyHalted),
		sampleVM("default", "build-runner", "52:54:00:12:34:57", kubevirtv1.RunStrategyManual),
		sampleVM("default", "no-fixed-mac", "", kubevirtv1.RunStrategyHalted),
		sampleVM("production", "db-replica", "52:54:00:ab:cd:01", kubevirtv1.RunStrategyHalted),
	}
	for _, v := range vms {
		if err := c.Create(ctx, v); err != nil {
			return err
		}
		mac := "(none: KubeVirt would generate one at every start)"
		if ifs := v.Spec.Template.Spec.Domain.Devices.Interfaces; len(ifs) > 0 && ifs[0].MacAddress != "" {
			mac = ifs[0].MacAddress
		}
		note("%-12s %-16s runStrategy=%-8s mac=%s", v.Namespace, v.Name, *v.Spec.RunStrategy, mac)
	}

	step(6, "Applying the sample WolConfig (config/samples/wol_v1beta1_wolconfig_all.yaml)")
	wc := &wolv1beta1.WolConfig{}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "wol_v1beta1_wolconfig_all.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, wc); err != nil {
		return err
	}
	var lan *netlab.LAN
	port := 9
	if privileged {
		if lan, err = netlab.New("node0", "sender"); err != nil {
			return err
		}
		st.Namespaces = lan.Namespaces()
		if err := saveState(st); err != nil {
			return err
		}
		note(
			"running as root: the listener's node is network namespace %s (%s), the sender is %s (%s), joined by a bridge",
			lan.Host("node0").NS,
			lan.Host("node0").IP,
			lan.Host("sender").NS,
			lan.Host("sender").IP,
		)
	} else {
		port = unprivPort
		wc.Spec.WolPorts = []int32{unprivPort}
		note("not root: no network namespaces, so the listener uses this machine's network with UDP port %d instead of 9 and raw mode stays off", unprivPort)
	}
	if err := c.Create(ctx, wc); err != nil {
		return err
	}
	note(
		"discoveryMode=%s namespaceSelectors=%v wolPorts=%v",
		wc.Spec.DiscoveryMode,
		wc.Spec.NamespaceSelectors,
		wc.Spec.WolPorts,
	)

	step(7, "Waiting for the operator's listener Deployment to be scheduled and Available")
	deployName := "wol-listener-" + wc.Name
	if err := waitFor(ctx, 2*time.Minute, func() (bool, error) {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: deployName}, d); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return d.Status.AvailableReplicas >= 1, nil
	}); err != nil {
		return fmt.Errorf("listener Deployment: %w (see %s)", err, op.Log)
	}
	pods, err := stk.WaitPods(ctx, operatorNS, "app.kubernetes.io/instance="+wc.Name, 1, 2*time.Minute)
	if err != nil {
		return err
	}
	note(
		"Deployment %s/%s is Available: pod %s scheduled on %s (simulated)",
		operatorNS,
		deployName,
		pods[0].Name,
		pods[0].Spec.NodeName,
	)

	step(8, "Running the listener as a local process, with that pod's arguments and ServiceAccount")
	var extra []string
	if lan != nil {
		extra = append(extra, "--netns="+lan.Host("node0").Path())
	}
	lst, err := stk.StartListener(ctx, &pods[0], "listener.log", extra...)
	if err != nil {
		return err
	}
	note("%s", lst)
	metricsHost := "127.0.0.1"
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if lan != nil {
		metricsHost = lan.Host("node0").IP.String()
		dial = lan.Host("sender").DialContext
	}
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: dial,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true,
		}, //nolint:gosec // the listener's certificate is self-signed
	}}
	base := "https://" + net.JoinHostPort(metricsHost, fmt.Sprint(wolv1beta1.DefaultMetricsPort))
	if err := waitFor(ctx, time.Minute, func() (bool, error) {
		code, _, _ := get(httpc, base+"/readyz", "")
		return code == http.StatusOK, nil
	}); err != nil {
		return fmt.Errorf("listener not ready: %w (see %s)", err, lst.Log)
	}
	if err := waitFor(ctx, time.Minute, func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(wc), wc); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(wc.Status.Conditions, wolv1beta1.ConditionReady) && wc.Status.ManagedVMs == 3, nil
	}); err != nil {
		return fmt.Errorf("WolConfig not Ready: %w", err)
	}
	note("listener ready (sockets bound, VM index synced)")
	note(
		"WolConfig %s: Ready=True managedVMs=%d notWakeable=%v",
		wc.Name,
		wc.Status.ManagedVMs,
		wc.Status.NotWakeableVMs,
	)

	step(9, "Sending a real magic packet for %s (default/fedora-desktop)", demoMAC)
	before := runStrategyOf(ctx, c, "default", "fedora-desktop")
	sendCmd, err := sendMagic(lan, port, demoMAC)
	if err != nil {
		return err
	}
	note("$ %s", sendCmd)

	step(10, "What happened")
	var after kubevirtv1.VirtualMachineRunStrategy
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		after = runStrategyOf(ctx, c, "default", "fedora-desktop")
		return after == kubevirtv1.RunStrategyAlways, nil
	}); err != nil {
		return fmt.Errorf("the VM was not started: %w (see %s)", err, lst.Log)
	}
	for _, line := range strings.Split(lst.Output(), "\n") {
		if strings.Contains(line, "VM started") {
			note("listener log: %s", strings.TrimSpace(line))
		}
	}
	note(
		"the listener called KubeVirt's start subresource (PUT /apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/fedora-desktop/start), as `virtctl start` does;",
	)
	note("real virt-api set VM default/fedora-desktop's runStrategy %s -> %s", before, after)
	vmi := &kubevirtv1.VirtualMachineInstance{}
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fedora-desktop"}, vmi); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return vmi.Status.Phase == kubevirtv1.Scheduled, nil
	}); err != nil {
		return fmt.Errorf(
			"no VirtualMachineInstance reached Scheduled: %w (see %s)",
			err,
			filepath.Join(demoDir, "kubevirt"),
		)
	}
	vm := &kubevirtv1.VirtualMachine{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fedora-desktop"}, vm); err != nil {
		return err
	}
	note(
		"real virt-controller created VirtualMachineInstance default/fedora-desktop: phase %s on node %s; the VM's status is %q",
		vmi.Status.Phase,
		vmi.Status.NodeName,
		vm.Status.PrintableStatus,
	)
	launchers := &corev1.PodList{}
	if err := c.List(ctx, launchers, client.InNamespace("default"), client.MatchingLabels{kubevirtv1.CreatedByLabel: string(vmi.UID)}); err != nil {
		return err
	}
	for _, p := range launchers.Items {
		note(
			"its virt-launcher pod %s: %s on %s (SIMULATED by kwok; no virt-handler, so the instance stays Scheduled and no guest boots)",
			p.Name,
			p.Status.Phase,
			p.Spec.NodeName,
		)
	}
	events := &corev1.EventList{}
	if err := c.List(ctx, events, client.InNamespace("default")); err != nil {
		return err
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name == "fedora-desktop" {
			note("Event on the VM: %s %s: %s", e.Type, e.Reason, e.Message)
		}
	}
	token, err := metricsToken(ctx, c, admin)
	if err != nil {
		return err
	}
	if code, _, _ := get(httpc, base+"/metrics", ""); code != 0 {
		note("GET %s/metrics without a token: HTTP %d", base, code)
	}
	code, body, err := get(httpc, base+"/metrics", token)
	if err != nil {
		return err
	}
	note("GET %s/metrics with a metrics-reader ServiceAccount token: HTTP %d", base, code)
	for _, line := range strings.Split(body, "\n") {
		for _, m := range []string{"wol_packets_total{", "wol_vm_started_total{", "wol_managed_vms ", "wol_wake_lookups_total{"} {
			if strings.HasPrefix(line, m) && !strings.HasSuffix(line, " 0") {
				note("  %s", line)
			}
		}
	}

	step(11, "The demo keeps running (took %s). Try more:", time.Since(start).Round(time.Second))
	fmt.Printf("    export KUBECONFIG=%s PATH=%s:$PATH\n", stk.Cluster.Kubeconfig, bin)
	fmt.Println("    kubectl get wolconfig,vm,vmi -A")
	fmt.Println("    kubectl get wolconfig wol-config -o yaml      # status: conditions, managedVMs, notWakeableVMs")
	if lan != nil {
		fmt.Printf(
			"    sudo ip netns exec %s wakeonlan -i %s 52:54:00:ab:cd:01   # wakes production/db-replica\n",
			lan.Host("sender").NS,
			netlab.Broadcast,
		)
		fmt.Printf(
			"    sudo ip netns exec %s etherwake -i %s -b 52:54:00:12:34:57   # raw frame: enable spec.rawEthernet first\n",
			lan.Host("sender").NS,
			netlab.Iface,
		)
	} else {
		fmt.Printf("    wakeonlan -i 127.0.0.1 -p %d 52:54:00:ab:cd:01   # wakes production/db-replica\n", unprivPort)
	}
	fmt.Printf("    tail -f %s %s\n", lst.Log, op.Log)
	fmt.Println("    make demo-down                                 # stops everything and removes the cluster")
	ok = true
	return nil
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
