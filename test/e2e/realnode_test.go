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

package e2e

// The real node: the operator and the listener Deployment of the WolConfig
// "real" run as real pods on the kubelet node of BeforeSuite, from the image
// of `make image`; a real magic packet from the LAN's sender is received
// inside the listener's container and starts the VM through real virt-api.

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/stack"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

const (
	realHost     = "real"     // the real node's namespace on the LAN
	realNodeName = "wol-node" // its Node
	realWC       = "real"
	realVMNS     = "real-vms"
	// nodeTimeout bounds what a real node does: pulling nothing, but
	// creating sandboxes and containers.
	nodeTimeout = 2 * time.Minute
	// capNetBindService and capNetRaw are the capability bits of CapEff.
	capNetBindService = 1 << 10
	capNetRaw         = 1 << 13
	realListeners     = "app.kubernetes.io/instance=" + realWC
)

// realNodeDiagnostics writes the real node's logs and those of the
// containers it ran for the operator and the real listener.
func realNodeDiagnostics(b *strings.Builder) {
	if realNode == nil {
		return
	}
	b.WriteString(realNode.Logs(80))
	for _, sel := range []string{stack.OperatorSelector, realListeners, "app=stripped"} {
		pods := &corev1.PodList{}
		_ = k8s.List(context.Background(), pods, client.MatchingLabels(labelsOf(sel)))
		for i := range pods.Items {
			if pods.Items[i].Spec.NodeName != realNodeName {
				continue
			}
			for _, c := range pods.Items[i].Spec.Containers {
				out, err := realNode.ContainerLog(&pods.Items[i], c.Name)
				fmt.Fprintf(b, "===== pod %s container %s (%v)\n%s\n", pods.Items[i].Name, c.Name, err, tail(out, 150))
			}
		}
	}
}

func labelsOf(sel string) map[string]string {
	k, v, _ := strings.Cut(sel, "=")
	return map[string]string{k: v}
}

// readyPod waits for the one Ready pod of the operator's namespace matching
// sel and returns it.
func readyPod(ctx context.Context, sel string) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	Eventually(func(g Gomega) {
		pods := &corev1.PodList{}
		g.Expect(k8s.List(ctx, pods, client.InNamespace(operatorNS), client.MatchingLabels(labelsOf(sel)))).To(Succeed())
		var live []corev1.Pod
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		g.Expect(live).To(HaveLen(1))
		g.Expect(live[0].Status.Phase).To(Equal(corev1.PodRunning))
		g.Expect(podReady(&live[0])).To(BeTrue(), "pod %s not Ready: %+v", live[0].Name, live[0].Status.Conditions)
		pod = &live[0]
	}, nodeTimeout, interval).Should(Succeed())
	return pod
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// process is what /proc says of a container's main process.
type process struct {
	pid                 int
	uid                 string
	capEff              uint64
	noNewPrivs, seccomp string
	netns, nodeNetns    string
}

// containerProcess finds the main process of pod's first container through
// the node's containerd and reads its credentials from /proc.
func containerProcess(ctx context.Context, pod *corev1.Pod) process {
	GinkgoHelper()
	Expect(pod.Status.ContainerStatuses).NotTo(BeEmpty())
	id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	out, err := realNode.Ctr(ctx, "tasks", "ls")
	Expect(err).NotTo(HaveOccurred(), out)
	var p process
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id {
			p.pid, err = strconv.Atoi(f[1])
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(p.pid).NotTo(BeZero(), "no task %s in:\n%s", id, out)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	Expect(err).NotTo(HaveOccurred())
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:\s*(.*)$`).FindSubmatch(status)
		Expect(m).NotTo(BeNil(), name)
		return strings.TrimSpace(string(m[1]))
	}
	p.uid = strings.Fields(field("Uid"))[1] // effective
	p.capEff, err = strconv.ParseUint(field("CapEff"), 16, 64)
	Expect(err).NotTo(HaveOccurred())
	p.noNewPrivs, p.seccomp = field("NoNewPrivs"), field("Seccomp")
	p.netns, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.pid))
	Expect(err).NotTo(HaveOccurred())
	st, err := os.Stat(lan.Host(realHost).Path())
	Expect(err).NotTo(HaveOccurred())
	p.nodeNetns = fmt.Sprintf("net:[%d]", inode(st))
	return p
}

// listenerLog is the kubelet's log of the listener pod's container.
func listenerLog(pod *corev1.Pod) func() string {
	return func() string {
		out, _ := realNode.ContainerLog(pod, "listener")
		return out
	}
}

var _ = Describe("kubevirt-wol on a real kubelet node", Ordered, func() {
	var listenerPod *corev1.Pod

	// The other Describe's listeners are on the same LAN: this one's
	// WolConfig goes when it ends, so that they never run at once.
	AfterAll(func(ctx SpecContext) {
		wc := &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: realWC}}
		Expect(client.IgnoreNotFound(k8s.Delete(ctx, wc))).To(Succeed())
		Eventually(func() int { return len(runningPods(ctx, realListeners)) }, nodeTimeout, interval).Should(BeZero())
	})

	It("runs the operator as a real pod from the image, as its non-root user with no capability", func(ctx SpecContext) {
		pod := readyPod(ctx, stack.OperatorSelector)
		Expect(pod.Spec.NodeName).To(Equal(realNodeName))
		Expect(pod.Spec.Containers[0].ImagePullPolicy).NotTo(Equal(corev1.PullAlways))
		p := containerProcess(ctx, pod)
		Expect(p.uid).To(Equal("65532"))
		Expect(p.capEff).To(BeZero())
		Expect(p.noNewPrivs).To(Equal("1"))
		Expect(p.seccomp).To(Equal("2"), "RuntimeDefault seccomp is filter mode")
		Expect(p.netns).NotTo(Equal(p.nodeNetns), "the operator is on the pod network, not the node's")
		// Its in-cluster client reached the API server through the
		// `kubernetes` Service (kube-proxy): it took the leader lease.
		Eventually(func() string { out, _ := realNode.ContainerLog(pod, "manager"); return out }, nodeTimeout, interval).
			Should(ContainSubstring("Successfully acquired lease"))
	})

	It("runs the listener Deployment the operator builds as a real hostNetwork pod, Ready through the kubelet's HTTPS probes", func(ctx SpecContext) {
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: realVMNS}})).To(Succeed())
		for _, v := range []*kubevirtv1.VirtualMachine{
			vmfixture.New(realVMNS, "alpha", vmfixture.RunStrategy(kubevirtv1.RunStrategyHalted), vmfixture.MACs("52:54:00:0e:00:01")),
			vmfixture.New(realVMNS, "bravo", vmfixture.RunStrategy(kubevirtv1.RunStrategyHalted), vmfixture.MACs("52:54:00:0e:00:02")),
		} {
			Expect(k8s.Create(ctx, v)).To(Succeed())
		}
		Expect(k8s.Create(ctx, &wolv1beta1.WolConfig{
			ObjectMeta: metav1.ObjectMeta{Name: realWC},
			Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{realVMNS},
				WolPorts:           []int32{9},
				Interfaces:         []string{netlab.Iface},
				Listener: wolv1beta1.ListenerSpec{
					Replicas:     ptr.To[int32](1),
					NodeSelector: map[string]string{corev1.LabelHostname: realNodeName},
				},
			},
		})).To(Succeed())

		listenerPod = readyPod(ctx, realListeners)
		Expect(listenerPod.Spec.NodeName).To(Equal(realNodeName))
		Expect(listenerPod.Spec.HostNetwork).To(BeTrue())
		Expect(listenerPod.Status.PodIP).To(Equal(lan.Host(realHost).IP.String()))
		probe := listenerPod.Spec.Containers[0].ReadinessProbe
		Expect(probe.HTTPGet.Scheme).To(Equal(corev1.URISchemeHTTPS))

		p := containerProcess(ctx, listenerPod)
		Expect(p.uid).To(Equal("0"))
		Expect(p.capEff).To(Equal(uint64(capNetBindService)), "CapEff %#x: only NET_BIND_SERVICE", p.capEff)
		Expect(p.noNewPrivs).To(Equal("1"))
		Expect(p.seccomp).To(Equal("2"))
		Expect(p.netns).To(Equal(p.nodeNetns), "the listener is on the node's host network")
		GinkgoWriter.Printf("listener pod %s: pid %d uid %s CapEff %#x NoNewPrivs %s Seccomp %s\n",
			listenerPod.Name, p.pid, p.uid, p.capEff, p.noNewPrivs, p.seccomp)

		Eventually(func(g Gomega) {
			wc := &wolv1beta1.WolConfig{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: realWC}, wc)).To(Succeed())
			g.Expect(wc.Status.Listener.ReadyReplicas).To(Equal(int32(1)))
			g.Expect(wc.Status.ManagedVMs).To(Equal(int32(2)))
		}, nodeTimeout, interval).Should(Succeed())
	})

	It("wakes the VM with wakeonlan from the LAN: the packet is received inside the listener's container", func(ctx SpecContext) {
		wakeonlan("52:54:00:0e:00:01")
		Eventually(runStrategy(ctx, realVMNS, "alpha"), nodeTimeout, interval).Should(Equal(kubevirtv1.RunStrategyAlways))
		Eventually(func() []string { return wokenEventMessages(ctx, realVMNS, "alpha") }, nodeTimeout, interval).
			Should(ContainElement(And(ContainSubstring("through KubeVirt's start subresource"), ContainSubstring(realNodeName))))
		// The listener's own log, as the kubelet keeps it: the datagram from
		// the sender's address, on the node's interface, started the VM.
		sender := regexp.QuoteMeta(lan.Host("sender").IP.String())
		Eventually(listenerLog(listenerPod), nodeTimeout, interval).Should(MatchRegexp(
			`"msg":"VM started","vm":\{"name":"alpha","namespace":"` + realVMNS + `"\},"origin":"` + sender + `:\d+ \(udp4 port 9, interface lan0\)"`))
		Eventually(instance(ctx, realVMNS, "alpha"), nodeTimeout, interval).Should(MatchRegexp(`^Scheduled on node-\d+$`))
		Expect(runStrategy(ctx, realVMNS, "bravo")()).To(Equal(kubevirtv1.RunStrategyHalted))
	})

	It("switches raw mode on: the new pod has NET_RAW and etherwake's frame wakes the VM", func(ctx SpecContext) {
		old := listenerPod.UID
		Expect(stk.UpdateWolConfig(ctx, realWC, func(wc *wolv1beta1.WolConfig) { wc.Spec.RawEthernet.Enabled = true })).To(Succeed())
		Eventually(func(g Gomega) {
			listenerPod = readyPod(ctx, realListeners)
			g.Expect(listenerPod.UID).NotTo(Equal(old))
			g.Expect(listenerPod.Spec.Containers[0].SecurityContext.Capabilities.Add).To(ContainElement(corev1.Capability("NET_RAW")))
		}, nodeTimeout, interval).Should(Succeed())
		p := containerProcess(ctx, listenerPod)
		Expect(p.capEff).To(Equal(uint64(capNetBindService|capNetRaw)), "CapEff %#x: NET_BIND_SERVICE and NET_RAW", p.capEff)
		Eventually(listenerLog(listenerPod), nodeTimeout, interval).Should(ContainSubstring(`"msg":"Receiver ready","ports":[9],"raw":true`))

		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			send("etherwake", "-i", netlab.Iface, "-b", "52:54:00:0e:00:02")
			return runStrategy(ctx, realVMNS, "bravo")()
		}, nodeTimeout, time.Second).Should(Equal(kubevirtv1.RunStrategyAlways))
		Eventually(func() []string { return wokenEventMessages(ctx, realVMNS, "bravo") }, nodeTimeout, interval).Should(HaveLen(1))
	})

	It("fails raw mode with a clear error in the pod's log and status when NET_RAW is taken away", func(ctx SpecContext) {
		d := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "wol-listener-" + realWC}, d)).To(Succeed())

		By("scaling the listener to zero, to free the node's ports")
		Expect(stk.UpdateWolConfig(ctx, realWC, func(wc *wolv1beta1.WolConfig) { wc.Spec.Listener.Replicas = ptr.To[int32](0) })).To(Succeed())
		Eventually(func() []corev1.Pod {
			pods := &corev1.PodList{}
			Expect(k8s.List(ctx, pods, client.InNamespace(operatorNS), client.MatchingLabels(labelsOf(realListeners)))).To(Succeed())
			return pods.Items
		}, nodeTimeout, interval).Should(BeEmpty())

		By("running the operator's listener pod as an admission policy that strips NET_RAW would leave it")
		tmpl := d.Spec.Template.DeepCopy()
		c := &tmpl.Spec.Containers[0]
		Expect(c.SecurityContext.Capabilities.Add).To(ContainElement(corev1.Capability("NET_RAW")))
		c.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		stripped := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "listener-without-net-raw", Labels: map[string]string{"app": "stripped"}},
			Spec:       tmpl.Spec,
		}
		Expect(k8s.Create(ctx, stripped)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stripped), stripped)).To(Succeed())
			g.Expect(stripped.Status.Phase).To(Equal(corev1.PodRunning))
			g.Expect(listenerLog(stripped)()).To(ContainSubstring("raw mode needs CAP_NET_RAW"))
		}, nodeTimeout, interval).Should(Succeed())
		Expect(listenerLog(stripped)()).To(ContainSubstring("operation not permitted"))
		// Unready, as the kubelet's HTTPS readiness probe says, and the
		// kubelet says why in an event.
		Consistently(func() bool {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(stripped), stripped)).To(Succeed())
			return podReady(stripped)
		}, 10*time.Second, interval).Should(BeFalse())
		Eventually(func() []string {
			list := &corev1.EventList{}
			Expect(k8s.List(ctx, list, client.InNamespace(operatorNS))).To(Succeed())
			var msgs []string
			for _, e := range list.Items {
				if e.InvolvedObject.Name == stripped.Name && e.Reason == "Unhealthy" {
					msgs = append(msgs, e.Message)
				}
			}
			return msgs
		}, nodeTimeout, interval).Should(ContainElement(ContainSubstring("Readiness probe failed")))
		p := containerProcess(ctx, stripped)
		Expect(p.capEff).To(Equal(uint64(capNetBindService)))

		Expect(k8s.Delete(ctx, stripped, client.GracePeriodSeconds(0))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(stripped), &corev1.Pod{}))
		}, nodeTimeout, interval).Should(BeTrue())
	})
})

// inode is the inode number of a file (a network namespace's is its
// identity: /proc/PID/ns/net reads "net:[INODE]").
func inode(fi os.FileInfo) uint64 {
	return fi.Sys().(*syscall.Stat_t).Ino
}
