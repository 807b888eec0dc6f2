//go:build e2e

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

// Package e2e runs the whole product on one machine: a kwok cluster made of
// real control-plane binaries (nodes and pods simulated), real KubeVirt
// (virt-api and virt-controller, installed as virt-operator installs them),
// the operator and the listeners as local processes started with the
// arguments of the pods the cluster scheduled, and real WoL senders in
// network namespaces.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
	"github.com/gpillon/kubevirt-wol/internal/testenv/promstack"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
)

const (
	operatorNS = stack.OperatorNamespace
	fieldOwner = "kubevirt-wol-e2e"
)

var (
	bin      = testenv.BinDir()
	workdir  string
	stk      *stack.Stack
	adminCfg *rest.Config
	k8s      client.Client
	lan      *netlab.LAN
	// promOperator is the Prometheus Operator's process.
	promOperator *proc.Process
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubevirt-wol end to end (kwok cluster, real control plane, real WoL senders)")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	if msg, skip := netlab.Unavailable("the e2e suite", "wakeonlan", "etherwake"); skip {
		Skip(msg)
	} else if msg != "" {
		Fail(msg)
	}
	missing := testenv.MissingBinaries(bin, append([]string{"manager", "listener", "kustomize"}, promstack.Binaries...))
	Expect(missing).To(BeEmpty(), "bin/ lacks %v: run `make test-e2e`", missing)
	root := testenv.RepoRoot()
	Expect(os.MkdirAll(filepath.Join(root, ".kwok"), 0o755)).To(Succeed())
	var err error
	workdir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "e2e-")
	Expect(err).NotTo(HaveOccurred())
	stk, err = stack.New(stack.Options{Dir: workdir, Name: "wol-e2e-" + filepath.Base(workdir)[4:], Nodes: 2, FieldOwner: fieldOwner})
	Expect(err).NotTo(HaveOccurred())

	By("starting a kwok cluster with two simulated nodes KubeVirt schedules on")
	start := time.Now()
	Expect(stk.StartCluster(ctx)).To(Succeed())
	GinkgoWriter.Printf("cluster up in %s\n", time.Since(start).Round(time.Millisecond))
	adminCfg, k8s = stk.Admin, stk.Client

	By("installing KubeVirt " + kubevirtcp.Version() + ": real virt-api and virt-controller")
	Expect(stk.StartKubeVirt(ctx)).To(Succeed())

	By("installing the operator as `make deploy` would")
	Expect(stk.Install(ctx)).To(Succeed())

	By("running the operator from its Deployment's pod, as its ServiceAccount")
	Expect(stk.StartOperator(ctx, "--discovery-interval=2s", "--zap-devel")).To(Succeed())

	By("building a LAN: two node namespaces, a sender and a monitoring host on one bridge")
	lan, err = netlab.New("node0", "node1", "sender", "monitor")
	Expect(err).NotTo(HaveOccurred())

	By("giving each kwok node the addresses of a node namespace, so that a hostNetwork pod has the address its process serves on")
	nodes := &corev1.NodeList{}
	Expect(k8s.List(ctx, nodes)).To(Succeed())
	Expect(nodes.Items).To(HaveLen(2))
	for i, n := range nodes.Items {
		h := lan.Host(fmt.Sprintf("node%d", i))
		Expect(stk.SetNodeAddresses(ctx, n.Name, h.IP, h.IP6)).To(Succeed())
	}

	By("installing the Prometheus Operator's CRDs and running the Prometheus Operator")
	Expect(promstack.InstallCRDs(ctx, adminCfg, fieldOwner)).To(Succeed())
	promOperator, err = promstack.StartOperator(stk.Kubeconfig(), filepath.Join(workdir, "prometheus-operator.log"))
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	stopPrometheus()
	promOperator.Stop()
	stopListeners()
	if lan != nil {
		lan.Close()
	}
	if stk != nil {
		Expect(stk.Stop()).To(Succeed())
	}
	if workdir != "" && !CurrentSpecReport().Failed() {
		_ = os.RemoveAll(workdir)
	}
})

// Dump what a failure needs: the processes' logs and the objects.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() || stk == nil || stk.Cluster == nil {
		return
	}
	var b strings.Builder
	if op := stk.Operator; op != nil {
		fmt.Fprintf(&b, "===== operator: %s\n%s\n", op, tail(op.Output(), 200))
	}
	for _, l := range listeners {
		fmt.Fprintf(&b, "===== listener %s: %s\n%s\n", l.node, l.proc, tail(l.proc.Output(), 200))
	}
	if promOperator != nil {
		fmt.Fprintf(&b, "===== prometheus-operator: %s\n%s\n", promOperator, tail(promOperator.Output(), 100))
	}
	for _, p := range prometheuses {
		if p.Process != nil {
			fmt.Fprintf(&b, "===== prometheus %s/%s: %s\n%s\n", p.Namespace, p.Name, p.Process, tail(p.Process.Output(), 100))
		}
	}
	b.WriteString(stk.KubeVirt.Logs(60))
	out, _ := exec.Command(filepath.Join(bin, "kubectl"), "--kubeconfig", stk.Cluster.Kubeconfig, "get",
		"wolconfigs,deployments,pods,virtualmachines,virtualmachineinstances,events", "-A", "-o", "yaml").CombinedOutput()
	fmt.Fprintf(&b, "===== objects\n%s\n", tail(string(out), 400))
	AddReportEntry("diagnostics", b.String())
	GinkgoWriter.Print(b.String())
})

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// runningPods lists the Running pods of namespace matching selector.
func runningPods(ctx context.Context, namespace, selector string) []corev1.Pod {
	GinkgoHelper()
	pods, err := stk.Pods(ctx, namespace, selector)
	Expect(err).NotTo(HaveOccurred())
	return pods
}

func deploymentAvailable(ctx context.Context, namespace, name string) func() int32 {
	return func() int32 {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return -1
		}
		return d.Status.AvailableReplicas
	}
}
