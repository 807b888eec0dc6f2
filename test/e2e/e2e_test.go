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

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

const (
	wcName   = "lan"
	vmNS     = "e2e-vms"
	otherNS  = "e2e-other"
	timeout  = time.Minute
	interval = 200 * time.Millisecond
)

// hostWithIP returns the LAN's node host with address ip (nil if none).
func hostWithIP(ip string) *netlab.Host {
	for _, name := range []string{"node0", "node1"} {
		if h := lan.Host(name); h.IP.String() == ip {
			return h
		}
	}
	return nil
}

// listener is a listener process started for one of the Deployment's pods.
type listener struct {
	node string // the kwok node the pod was scheduled on
	host *netlab.Host
	proc *proc.Process
}

var listeners []listener

func stopListeners() {
	for _, l := range listeners {
		l.proc.Stop()
	}
	listeners = nil
}

func vm(ns, name, mac string, lbls map[string]string, strategy kubevirtv1.VirtualMachineRunStrategy) *kubevirtv1.VirtualMachine {
	return vmfixture.New(ns, name, vmfixture.RunStrategy(strategy), vmfixture.MACs(mac), vmfixture.Labels(lbls))
}

// instance describes VM ns/name's instance as virt-controller and the
// scheduler made it: its phase and the node its launcher pod runs on ("" if
// none yet).
func instance(ctx context.Context, ns, name string) func() string {
	return func() string { return stk.Instance(ctx, ns, name) }
}

func runStrategy(ctx context.Context, ns, name string) func() kubevirtv1.VirtualMachineRunStrategy {
	return func() kubevirtv1.VirtualMachineRunStrategy { return stk.RunStrategy(ctx, ns, name) }
}

func updateWolConfig(ctx context.Context, mutate func(*wolv1beta1.WolConfig)) {
	GinkgoHelper()
	Expect(stk.UpdateWolConfig(ctx, wcName, mutate)).To(Succeed())
}

func send(name string, args ...string) {
	GinkgoHelper()
	out, err := lan.Exec("sender", name, args...)
	Expect(err).NotTo(HaveOccurred(), out)
}

func wakeonlan(mac string) {
	GinkgoHelper()
	out, err := lan.Exec("sender", "wakeonlan", "-i", netlab.Broadcast.String(), "-p", "9", mac)
	Expect(err).NotTo(HaveOccurred(), out)
	Expect(out).To(ContainSubstring("Sending magic packet")) // it exits 0 when it refuses an address
}

// wokenEventMessages returns the messages of the WokenByMagicPacket events
// on a VM.
func wokenEventMessages(ctx context.Context, ns, name string) []string {
	list := &corev1.EventList{}
	Expect(k8s.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == "WokenByMagicPacket" {
			out = append(out, e.Message)
		}
	}
	return out
}

// wokenEvents counts the WokenByMagicPacket events on the VM name of vmNS.
func wokenEvents(ctx context.Context, name string) func() int {
	return func() int {
		list := &corev1.EventList{}
		Expect(k8s.List(ctx, list, client.InNamespace(vmNS))).To(Succeed())
		n := 0
		for _, e := range list.Items {
			if e.InvolvedObject.Name == name && e.Reason == "WokenByMagicPacket" {
				n += int(max(e.Count, 1))
			}
		}
		return n
	}
}

// scraper is an HTTPS client on the sender host of the LAN.
var scraper = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
	DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		return lan.Host("sender").DialContext(ctx, n, a)
	},
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the listener's certificate is self-signed
}}

func scrape(host *netlab.Host, path, token string) (int, string, error) {
	return metrictest.Get(scraper, "https://"+net.JoinHostPort(host.IP.String(), "9847")+path, token)
}

func saToken(ctx context.Context, ns, name string) string {
	GinkgoHelper()
	kube, err := kubernetes.NewForConfig(adminCfg)
	Expect(err).NotTo(HaveOccurred())
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

var _ = Describe("kubevirt-wol on the simulated nodes of a kwok cluster", Ordered, func() {
	var promToken string

	It("runs a listener Deployment on the simulated nodes and reports the WolConfig Ready", func(ctx SpecContext) {
		for _, ns := range []string{vmNS, otherNS} {
			Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}
		for _, v := range []*kubevirtv1.VirtualMachine{
			vm(vmNS, "alpha", "52:54:00:e2:00:01", nil, kubevirtv1.RunStrategyHalted),
			vm(vmNS, "bravo", "52:54:00:e2:00:02", nil, kubevirtv1.RunStrategyHalted),
			vm(vmNS, "manual", "52:54:00:e2:00:03", nil, kubevirtv1.RunStrategyManual),
			vm(otherNS, "outsider", "52:54:00:e2:00:09", nil, kubevirtv1.RunStrategyHalted),
		} {
			Expect(k8s.Create(ctx, v)).To(Succeed())
		}
		Expect(k8s.Create(ctx, &wolv1beta1.WolConfig{
			ObjectMeta: metav1.ObjectMeta{Name: wcName},
			Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{vmNS},
				WolPorts:           []int32{9},
				Interfaces:         []string{netlab.Iface},
				// On the nodes VMs run on: the simulated ones (the real
				// node has a WolConfig of its own).
				Listener: wolv1beta1.ListenerSpec{
					Replicas:     ptr.To[int32](2),
					NodeSelector: map[string]string{kubevirtv1.NodeSchedulable: "true"},
				},
			},
		})).To(Succeed())

		Eventually(deploymentAvailable(ctx, operatorNS, "wol-listener-"+wcName), timeout, interval).Should(Equal(int32(2)))
		pods := runningPods(ctx, "app.kubernetes.io/instance="+wcName)
		Expect(pods).To(HaveLen(2))
		Expect(pods[0].Spec.NodeName).NotTo(Equal(pods[1].Spec.NodeName), "the scheduler put both listeners on one node")

		Eventually(func(g Gomega) {
			wc := &wolv1beta1.WolConfig{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: wcName}, wc)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(wc.Status.Conditions, wolv1beta1.ConditionReady)).To(BeTrue())
			g.Expect(wc.Status.ManagedVMs).To(Equal(int32(3)))
			g.Expect(wc.Status.Listener.ReadyReplicas).To(Equal(int32(2)))
		}, timeout, interval).Should(Succeed())
	})

	It("starts a listener process for each scheduled pod, with the pod's arguments", func(ctx SpecContext) {
		pods := runningPods(ctx, "app.kubernetes.io/instance="+wcName)
		Expect(pods).To(HaveLen(2))
		for i := range pods {
			// The pod has its node's address (SetNodeAddresses): its
			// process serves in the namespace that has it.
			host := hostWithIP(pods[i].Status.PodIP)
			Expect(host).NotTo(BeNil(), "pod %s on %s has IP %s, no LAN host's", pods[i].Name, pods[i].Spec.NodeName, pods[i].Status.PodIP)
			proc, err := stk.StartListener(ctx, &pods[i], fmt.Sprintf("listener-%d.log", i), "--netns="+host.Path(), "--zap-devel")
			Expect(err).NotTo(HaveOccurred())
			Expect(proc.Args).To(ContainElement("--wolconfig=" + wcName))
			Expect(proc.Cmd.Env).To(ContainElement("NODE_NAME=" + pods[i].Spec.NodeName))
			listeners = append(listeners, listener{node: pods[i].Spec.NodeName, host: host, proc: proc})
		}
		for _, l := range listeners {
			Eventually(func() int {
				code, _, _ := scrape(l.host, "/readyz", "")
				return code
			}, timeout, interval).Should(Equal(http.StatusOK), "listener on %s not ready:\n%s", l.node, l.proc.Output())
		}
	})

	It("wakes the right VM with wakeonlan, exactly once although both listeners hear it", func(ctx SpecContext) {
		wakeonlan("52:54:00:e2:00:01")
		Eventually(runStrategy(ctx, vmNS, "alpha"), timeout, interval).Should(Equal(kubevirtv1.RunStrategyAlways))
		Eventually(wokenEvents(ctx, "alpha"), timeout, interval).Should(Equal(1))
		Consistently(wokenEvents(ctx, "alpha"), 2*time.Second, interval).Should(Equal(1))
		Expect(runStrategy(ctx, vmNS, "bravo")()).To(Equal(kubevirtv1.RunStrategyHalted))

		By("real virt-controller creating its instance, scheduled onto a kwok node (no virt-handler: it stays Scheduled)")
		Eventually(instance(ctx, vmNS, "alpha"), timeout, interval).Should(MatchRegexp(`^Scheduled on node-\d+$`))
		Expect(wokenEventMessages(ctx, vmNS, "alpha")).To(ContainElement(ContainSubstring("through KubeVirt's start subresource")))

		By("checking in the logs that both listeners heard the packet")
		for _, l := range listeners {
			Eventually(l.proc.Output, 10*time.Second, interval).Should(ContainSubstring("52:54:00:e2:00:01"),
				"listener on %s did not hear the broadcast", l.node)
		}

		By("a Manual VM is started through a start request and keeps its run strategy")
		wakeonlan("52:54:00:e2:00:03")
		Eventually(instance(ctx, vmNS, "manual"), timeout, interval).Should(MatchRegexp(`^Scheduled on node-\d+$`))
		Expect(runStrategy(ctx, vmNS, "manual")()).To(Equal(kubevirtv1.RunStrategyManual))
	})

	It("wakes a VM with an etherwake raw frame once raw mode is on, without restarting the listeners", func(ctx SpecContext) {
		updateWolConfig(ctx, func(wc *wolv1beta1.WolConfig) { wc.Spec.RawEthernet.Enabled = true })
		Eventually(func() []corev1.Capability {
			d := &appsv1.Deployment{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "wol-listener-" + wcName}, d)).To(Succeed())
			return d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add
		}, timeout, interval).Should(ContainElement(corev1.Capability("NET_RAW")))
		Eventually(func() string { return listeners[0].proc.Output() }, timeout, interval).Should(ContainSubstring(`"protocol": "raw"`))

		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			send("etherwake", "-i", netlab.Iface, "-b", "52:54:00:e2:00:02")
			return runStrategy(ctx, vmNS, "bravo")()
		}, timeout, time.Second).Should(Equal(kubevirtv1.RunStrategyAlways))
		// The event is written after the start, asynchronously: wait for it,
		// then make sure no second wake follows.
		Eventually(wokenEvents(ctx, "bravo"), timeout, interval).Should(Equal(1))
		Consistently(wokenEvents(ctx, "bravo"), 2*time.Second, interval).Should(Equal(1))
		for _, l := range listeners {
			Expect(l.proc.Exited()).To(BeFalse(), "listener on %s exited", l.node)
		}
	})

	It("starts nothing outside the scope, nothing for a MAC two VMs share, and reports the conflict", func(ctx SpecContext) {
		Expect(k8s.Create(ctx, vm(vmNS, "twin-a", "52:54:00:e2:00:04", nil, kubevirtv1.RunStrategyHalted))).To(Succeed())
		Expect(k8s.Create(ctx, vm(vmNS, "twin-b", "52:54:00:e2:00:04", nil, kubevirtv1.RunStrategyHalted))).To(Succeed())
		Eventually(func() int32 {
			wc := &wolv1beta1.WolConfig{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: wcName}, wc)).To(Succeed())
			return wc.Status.MACConflictCount
		}, timeout, interval).Should(Equal(int32(1)))

		// The listener sees the new VMs through its own watch; give it a
		// packet for a third, fresh VM as a barrier.
		Expect(k8s.Create(ctx, vm(vmNS, "barrier", "52:54:00:e2:00:05", nil, kubevirtv1.RunStrategyHalted))).To(Succeed())
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			wakeonlan("52:54:00:e2:00:05")
			return runStrategy(ctx, vmNS, "barrier")()
		}, timeout, time.Second).Should(Equal(kubevirtv1.RunStrategyAlways))

		wakeonlan("52:54:00:e2:00:04")
		wakeonlan("52:54:00:e2:00:09")
		Consistently(func() []kubevirtv1.VirtualMachineRunStrategy {
			return []kubevirtv1.VirtualMachineRunStrategy{
				runStrategy(ctx, vmNS, "twin-a")(), runStrategy(ctx, vmNS, "twin-b")(), runStrategy(ctx, otherNS, "outsider")(),
			}
		}, 3*time.Second, interval).Should(HaveEach(kubevirtv1.RunStrategyHalted))
	})

	It("switches the discovery mode without restarting anything", func(ctx SpecContext) {
		Expect(k8s.Create(ctx, vm(vmNS, "labelled", "52:54:00:e2:00:06", map[string]string{"wake": "yes"}, kubevirtv1.RunStrategyHalted))).To(Succeed())
		Expect(k8s.Create(ctx, vm(vmNS, "unlabelled", "52:54:00:e2:00:07", nil, kubevirtv1.RunStrategyHalted))).To(Succeed())
		updateWolConfig(ctx, func(wc *wolv1beta1.WolConfig) {
			wc.Spec.DiscoveryMode = wolv1beta1.DiscoveryModeLabelSelector
			wc.Spec.VMSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"wake": "yes"}}
		})
		Eventually(func() int32 {
			wc := &wolv1beta1.WolConfig{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: wcName}, wc)).To(Succeed())
			return wc.Status.ManagedVMs
		}, timeout, interval).Should(Equal(int32(1)))
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			wakeonlan("52:54:00:e2:00:06")
			return runStrategy(ctx, vmNS, "labelled")()
		}, timeout, time.Second).Should(Equal(kubevirtv1.RunStrategyAlways))
		wakeonlan("52:54:00:e2:00:07")
		Consistently(runStrategy(ctx, vmNS, "unlabelled"), 3*time.Second, interval).Should(Equal(kubevirtv1.RunStrategyHalted))
		for _, l := range listeners {
			Expect(l.proc.Exited()).To(BeFalse(), "listener on %s exited", l.node)
		}
	})

	It("serves metrics to a ServiceAccount allowed to read them, and refuses anonymous scrapes", func(ctx SpecContext) {
		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "prometheus"}})).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-prometheus-metrics-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubevirt-wol-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNS, Name: "prometheus"}},
		})).To(Succeed())
		promToken = saToken(ctx, operatorNS, "prometheus")

		code, _, err := scrape(listeners[0].host, "/metrics", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(http.StatusUnauthorized))

		var started, lookups float64
		Eventually(func(g Gomega) {
			started, lookups = 0, 0
			for _, l := range listeners {
				code, body, err := scrape(l.host, "/metrics", promToken)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(code).To(Equal(http.StatusOK))
				g.Expect(body).To(ContainSubstring(`wol_packets_total{protocol="udp4",result="accepted"}`))
				g.Expect(body).To(ContainSubstring(`wol_managed_vms 1`))
				started += metrictest.TextValue(body, "wol_vm_started_total")
				lookups += metrictest.TextValue(body, "wol_wake_lookups_total")
			}
		}, timeout, interval).Should(Succeed())
		// alpha, manual, bravo, barrier, labelled: five starts in all, each by
		// one listener only, though both looked every packet up.
		Expect(started).To(Equal(5.0))
		Expect(lookups).To(BeNumerically(">", started))
	})

	It("is scraped by a real Prometheus through the ServiceMonitor the operator created", scrapedByPrometheus)

	It("shows a real magic packet's wake in Prometheus", wakeSeenByPrometheus)

	It("keeps the endpoint closed to a Prometheus whose identity lacks the metrics-reader role", refusedWithoutReaderRole)

	It("loads the operator's alerts into Prometheus and raises one for a real MAC conflict", alertsLoaded)

	It("has data in Prometheus for every query of the Grafana dashboard", dashboardQueries)

	It("removes everything the WolConfig owned when it is deleted (real garbage collection)", func(ctx SpecContext) {
		stopListeners()
		wc := &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: wcName}}
		Expect(k8s.Delete(ctx, wc)).To(Succeed())
		owned := map[client.Object]client.ObjectKey{
			&appsv1.Deployment{}:         {Namespace: operatorNS, Name: "wol-listener-" + wcName},
			&corev1.ServiceAccount{}:     {Namespace: operatorNS, Name: "wol-listener-" + wcName},
			&corev1.Service{}:            {Namespace: operatorNS, Name: "wol-listener-" + wcName},
			&rbacv1.ClusterRole{}:        {Name: "kubevirt-wol-listener-" + wcName},
			&rbacv1.ClusterRoleBinding{}: {Name: "kubevirt-wol-listener-" + wcName},
			&rbacv1.RoleBinding{}:        {Namespace: vmNS, Name: "kubevirt-wol-listener-" + wcName + "-vms"},
		}
		vmRole := &rbacv1.ClusterRole{}
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-" + wcName + "-vms"}, vmRole))
		}, timeout, interval).Should(BeTrue(), "the VM ClusterRole was not garbage-collected")
		for obj, key := range owned {
			Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, key, obj)) }, timeout, interval).Should(BeTrue(),
				"%T %s was not garbage-collected", obj, key)
		}
		Eventually(func() int { return len(runningPods(ctx, "app.kubernetes.io/instance="+wcName)) }, timeout, interval).Should(BeZero())
	})
})
