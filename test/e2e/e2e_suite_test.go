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
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

const (
	operatorNS = "kubevirt-wol-system"
	operatorSA = "kubevirt-wol-controller-manager"
	fieldOwner = "kubevirt-wol-e2e"
)

var (
	root     = testenv.RepoRoot()
	bin      = testenv.BinDir()
	workdir  string
	cluster  *kwokcluster.Cluster
	adminCfg *rest.Config
	k8s      client.Client
	lan      *netlab.LAN
	operator *proc.Process
	kv       *kubevirtcp.ControlPlane
	scheme   = runtime.NewScheme()
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
	for _, b := range []string{"manager", "listener", "kustomize"} {
		_, err := os.Stat(filepath.Join(bin, b))
		Expect(err).NotTo(HaveOccurred(), "bin/%s is missing: run `make test-e2e`", b)
	}
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(kubevirtv1.AddToScheme(scheme)).To(Succeed())
	Expect(wolv1beta1.AddToScheme(scheme)).To(Succeed())

	var err error
	workdir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "e2e-")
	if os.IsNotExist(err) {
		Expect(os.MkdirAll(filepath.Join(root, ".kwok"), 0o755)).To(Succeed())
		workdir, err = os.MkdirTemp(filepath.Join(root, ".kwok"), "e2e-")
	}
	Expect(err).NotTo(HaveOccurred())

	kv, err = kubevirtcp.New(filepath.Join(workdir, "kubevirt"), kubevirtcp.Options{})
	Expect(err).NotTo(HaveOccurred())
	By("starting a kwok cluster with two simulated nodes KubeVirt schedules on")
	start := time.Now()
	cluster, err = kwokcluster.Create(ctx, bin, workdir, "wol-e2e-"+filepath.Base(workdir)[4:],
		kwokcluster.Options{Nodes: 2, KubeVirtNodes: true, APIServerArgs: kv.APIServerArgs()})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("cluster up in %s\n", time.Since(start).Round(time.Millisecond))
	adminCfg, err = cluster.RestConfig()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(adminCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	By("installing KubeVirt " + kubevirtcp.Version() + ": real virt-api and virt-controller")
	Expect(kv.Start(ctx, adminCfg)).To(Succeed())

	By("installing the operator as `make deploy` would")
	install, err := exec.Command(filepath.Join(bin, "kustomize"), "build", filepath.Join(root, "config", "default")).Output()
	Expect(err).NotTo(HaveOccurred())
	Expect(kwokcluster.Apply(ctx, adminCfg, install, fieldOwner)).To(Succeed())

	By("running the operator from its Deployment's pod, as its ServiceAccount")
	pod := runningPod(ctx, operatorNS, "control-plane=controller-manager")
	kc := filepath.Join(workdir, "operator.kubeconfig")
	Expect(cluster.ServiceAccountKubeconfig(ctx, operatorNS, operatorSA, kc)).To(Succeed())
	// The process shares this machine's network: its probe and metrics
	// ports move to free loopback ports. Everything else is the pod's.
	binary, args, env, err := kwokcluster.CommandFor(bin, pod, "manager",
		"--kubeconfig="+kc, "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0",
		"--discovery-interval=2s", "--zap-devel")
	Expect(err).NotTo(HaveOccurred())
	operator, err = proc.Start(binary, args, env, filepath.Join(workdir, "operator.log"), false)
	Expect(err).NotTo(HaveOccurred())

	By("building a LAN: two node namespaces and a sender on one bridge")
	lan, err = netlab.New("node0", "node1", "sender")
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	stopListeners()
	operator.Stop()
	if kv != nil {
		kv.Stop()
	}
	if lan != nil {
		lan.Close()
	}
	if cluster != nil {
		Expect(cluster.Delete()).To(Succeed())
	}
	if workdir != "" && !CurrentSpecReport().Failed() {
		_ = os.RemoveAll(workdir)
	}
})

// Dump what a failure needs: the processes' logs and the objects.
var _ = ReportAfterEach(func(report SpecReport) {
	if !report.Failed() || cluster == nil {
		return
	}
	var b strings.Builder
	if operator != nil {
		fmt.Fprintf(&b, "===== operator: %s\n%s\n", operator, tail(operator.Output(), 200))
	}
	for _, l := range listeners {
		fmt.Fprintf(&b, "===== listener %s: %s\n%s\n", l.node, l.proc, tail(l.proc.Output(), 200))
	}
	if kv != nil {
		b.WriteString(kv.Logs(60))
	}
	out, _ := exec.Command(filepath.Join(bin, "kubectl"), "--kubeconfig", cluster.Kubeconfig, "get",
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

// runningPod waits for the one Running pod matching selector in namespace.
func runningPod(ctx context.Context, namespace, selector string) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	Eventually(func(g Gomega) {
		pods := runningPods(ctx, namespace, selector)
		g.Expect(pods).To(HaveLen(1))
		pod = &pods[0]
	}, time.Minute, 200*time.Millisecond).Should(Succeed())
	return pod
}

func runningPods(ctx context.Context, namespace, selector string) []corev1.Pod {
	GinkgoHelper()
	sel, err := labelsSelector(selector)
	Expect(err).NotTo(HaveOccurred())
	list := &corev1.PodList{}
	Expect(k8s.List(ctx, list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel})).To(Succeed())
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
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
