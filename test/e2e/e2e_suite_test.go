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
// real control-plane binaries, real KubeVirt (virt-api and virt-controller,
// installed as virt-operator installs them), real WoL senders in network
// namespaces, and two kinds of node. A real kubelet node (containerd, runc,
// CNI from Debian, in a network namespace of its own) runs the operator and
// one WolConfig's listener as real pods from the image of `make image`, with
// their security contexts, ServiceAccount tokens and probes enforced by the
// kubelet and the runtime. Simulated kwok nodes carry KubeVirt's launcher
// pods and a second WolConfig's listeners, run as local processes with the
// arguments of the pods the cluster scheduled there (kwok runs no
// container). The real node is for truth, the kwok nodes for scale.
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
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/node"
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
	// realNode is the kubelet node the operator runs on.
	realNode *node.Node
	// promOperator is the Prometheus Operator's process.
	promOperator *proc.Process
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubevirt-wol end to end (kwok cluster with a real kubelet node, real control plane, real WoL senders)")
}

func env(name string) string {
	GinkgoHelper()
	v := os.Getenv(name)
	Expect(v).NotTo(BeEmpty(), "%s is not set: run `make test-e2e`", name)
	return v
}

var _ = BeforeSuite(func(ctx SpecContext) {
	if msg, skip := netlab.Unavailable("the e2e suite", "wakeonlan", "etherwake"); skip {
		Skip(msg)
	} else if msg != "" {
		Fail(msg)
	}
	Expect(node.Missing(bin)).To(BeEmpty())
	missing := testenv.MissingBinaries(bin, append([]string{"manager", "listener", "kustomize", "kubectl"}, promstack.Binaries...))
	Expect(missing).To(BeEmpty(), "bin/ lacks %v: run `make test-e2e`", missing)
	// The archives the real node imports (make image, make node-assets).
	imageTar, pauseTar, pauseImage := env("IMAGE_TAR"), env("PAUSE_IMAGE_TAR"), env("PAUSE_IMAGE")
	root := testenv.RepoRoot()
	Expect(os.MkdirAll(filepath.Join(root, ".kwok"), 0o755)).To(Succeed())
	var err error
	workdir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "e2e-")
	Expect(err).NotTo(HaveOccurred())

	By("building a LAN: the real node's namespace, two for the simulated nodes, a sender and a monitoring host on one bridge")
	lan, err = netlab.New(realHost, "node0", "node1", "sender", "monitor")
	Expect(err).NotTo(HaveOccurred())

	stk, err = stack.New(stack.Options{Dir: workdir, Name: "wol-e2e-" + filepath.Base(workdir)[4:], FieldOwner: fieldOwner, RealNodes: true})
	Expect(err).NotTo(HaveOccurred())
	By("starting a kwok cluster prepared for a real node (no simulated node yet)")
	start := time.Now()
	Expect(stk.StartCluster(ctx)).To(Succeed())
	GinkgoWriter.Printf("cluster up in %s\n", time.Since(start).Round(time.Millisecond))
	adminCfg, k8s = stk.Admin, stk.Client

	By("joining a real node: kubelet, kube-proxy, containerd, runc and CNI in its namespace, the images imported")
	start = time.Now()
	h := lan.Host(realHost)
	realNode, err = stk.StartNode(ctx, stack.NodeOptions{
		Name: realNodeName, NetNS: h.Path(), IP: h.IP,
		PauseImage: pauseImage, PauseArchive: pauseTar, Images: []string{imageTar},
	})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("node Ready in %s\n", time.Since(start).Round(time.Millisecond))

	By("installing KubeVirt " + kubevirtcp.Version() + ": real virt-api and virt-controller")
	Expect(stk.StartKubeVirt(ctx)).To(Succeed())

	// The only node yet is the real one, so the operator's pod runs there.
	// It looks for optional APIs every 2 s (a user's kustomize overlay), so
	// that the Prometheus Operator's, installed below, is found quickly.
	By("installing the operator as `make deploy` would, with a kustomize overlay adding --discovery-interval=2s")
	Expect(stk.Install(ctx, "--discovery-interval=2s")).To(Succeed())
	Expect(stk.Cluster.EnsureRunning(ctx)).To(Succeed())
	op := readyPod(ctx, stack.OperatorSelector)
	Expect(op.Spec.NodeName).To(Equal(realNodeName))

	By("adding two simulated nodes KubeVirt schedules on, each with the addresses of a node namespace")
	Expect(stk.AddSimulatedNodes(ctx, 2)).To(Succeed())
	nodes := &corev1.NodeList{}
	Expect(k8s.List(ctx, nodes, client.MatchingLabels{kubevirtv1.NodeSchedulable: "true"})).To(Succeed())
	Expect(nodes.Items).To(HaveLen(2))
	// kwok gives a hostNetwork pod its node's address when the pod is
	// created, so a listener pod scheduled there has the address its
	// process serves on.
	for i, n := range nodes.Items {
		h := lan.Host(fmt.Sprintf("node%d", i))
		Expect(stk.SetNodeAddresses(ctx, n.Name, h.IP, h.IP6)).To(Succeed())
	}

	By("installing the Prometheus Operator's CRDs and running the Prometheus Operator")
	Expect(promstack.InstallCRDs(ctx, adminCfg, fieldOwner)).To(Succeed())
	promOperator, err = promstack.StartOperator(stk.Kubeconfig(), filepath.Join(workdir, "prometheus-operator.log"))
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(8*time.Minute))

var _ = AfterSuite(func() {
	stopPrometheus()
	promOperator.Stop()
	stopListeners()
	if stk != nil {
		Expect(stk.Stop()).To(Succeed())
		if realNode != nil {
			Expect(realNode.LeftOnMachine()).To(BeEmpty(), "the real node left these on the machine")
		}
	}
	// The node's namespace is removed after the node has cleaned up in it.
	if lan != nil {
		lan.Close()
	}
})

// The cluster's and the nodes' folder (logs, state) stays when anything
// failed.
var _ = ReportAfterSuite("the work folder", func(r Report) {
	if workdir == "" {
		return
	}
	if r.SuiteSucceeded {
		_ = os.RemoveAll(workdir)
	} else {
		fmt.Fprintf(os.Stderr, "the cluster's and the nodes' logs are kept in %s\n", workdir)
	}
})

// Dump what a failure needs: the processes' logs and the objects.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() || stk == nil || stk.Cluster == nil {
		return
	}
	var b strings.Builder
	realNodeDiagnostics(&b)
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
		"nodes,wolconfigs,deployments,pods,virtualmachines,virtualmachineinstances,events", "-A", "-o", "yaml").CombinedOutput()
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

// runningPods lists the Running pods of the operator's namespace matching
// selector.
func runningPods(ctx context.Context, selector string) []corev1.Pod {
	GinkgoHelper()
	pods, err := stk.Pods(ctx, operatorNS, selector)
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
