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

package listenerapp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/controller"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

const ns = "kubevirt-wol-system"

var (
	env      *envtest.Environment
	adminCfg *rest.Config
	admin    client.Client
	lan      *netlab.LAN
	kv       *kubevirtcp.ControlPlane
)

func TestListenerApp(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Listener process (real kube-apiserver, real KubeVirt virt-api and virt-controller, real sockets, real WoL senders)")
}

var _ = BeforeSuite(func() {
	if msg, skip := netlab.Unavailable("the listener process suite", "wakeonlan", "etherwake"); skip {
		Skip(msg)
	} else if msg != "" {
		Fail(msg)
	}

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(kubevirtv1.AddToScheme(scheme)).To(Succeed())
	Expect(wolv1beta1.AddToScheme(scheme)).To(Succeed())

	dir, err := os.MkdirTemp("", "listenerapp-kubevirt-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	kv, err = kubevirtcp.New(dir, kubevirtcp.Options{})
	Expect(err).NotTo(HaveOccurred())
	env, adminCfg, err = testenv.Start(testenv.Options{APIServerArgs: kv.APIServerArgs()})
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(adminCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	// Real virt-api and virt-controller: wakes go through KubeVirt's start
	// subresource, as on a cluster (no scheduler here: instances stay in
	// phase Scheduling).
	Expect(kv.Start(context.Background(), adminCfg)).To(Succeed())

	// "intruder" is a host of the LAN outside the allow-lists.
	lan, err = netlab.New("node", "sender", "intruder")
	Expect(err).NotTo(HaveOccurred())
	// The operator's namespace, where listeners run.
	namespaces(context.Background(), ns)
})

var _ = AfterSuite(func() {
	if lan != nil {
		lan.Close()
	}
	if kv != nil {
		kv.Stop()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func create(ctx context.Context, objs ...client.Object) {
	for _, o := range objs {
		ExpectWithOffset(1, admin.Create(ctx, o)).To(Succeed())
	}
}

func haltedVM(namespace, name, mac string) *kubevirtv1.VirtualMachine {
	return vmfixture.New(namespace, name, vmfixture.MACs(mac))
}

// grantAccess gives the listener of wc what the operator grants it (see
// controller.ListenerAccess), as the operator would when wc changes.
func grantAccess(ctx context.Context, wc *wolv1beta1.WolConfig, secureOn ...string) {
	GinkgoHelper()
	for _, obj := range controller.ListenerAccess(wc, controller.Params{Namespace: ns}, secureOn) {
		Expect(client.IgnoreAlreadyExists(admin.Create(ctx, obj))).To(Succeed())
	}
}

func runStrategy(ctx context.Context, namespace, name string) func() kubevirtv1.VirtualMachineRunStrategy {
	return func() kubevirtv1.VirtualMachineRunStrategy {
		v := &kubevirtv1.VirtualMachine{}
		Expect(admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, v)).To(Succeed())
		return *v.Spec.RunStrategy
	}
}

func wakeonlan(port int, mac string) {
	GinkgoHelper()
	out, err := lan.Exec("sender", "wakeonlan", "-i", netlab.Broadcast.String(), "-p", fmt.Sprint(port), mac)
	Expect(err).NotTo(HaveOccurred(), out)
	// wakeonlan exits 0 even when it refuses the address.
	Expect(out).To(ContainSubstring("Sending magic packet"))
}

var _ = Describe("The listener process", Ordered, func() {
	ctx, cancel := context.WithCancel(context.Background())
	var app *listenerapp.App
	done := make(chan error, 1)

	BeforeAll(func() {
		wc := &wolv1beta1.WolConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "lab"},
			Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{"lab"},
				WolPorts:           []int32{40009, 40007},
				Interfaces:         []string{netlab.Iface},
			},
		}
		create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
			wc,
		)
		// The listener runs as the ServiceAccount, with the access, the
		// operator gives it (narrowed to this WolConfig and its scope).
		grantAccess(ctx, wc)

		logger := zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true))
		var err error
		app, err = listenerapp.New(listenerapp.Options{
			WolConfig:   "lab",
			NodeName:    "node-a",
			RestConfig:  testenv.Impersonate(adminCfg, ns, controller.ListenerName(wc)),
			MetricsAddr: ":0",
			NetNS:       lan.Host("node").Path(),
			Log:         logger,
		})
		Expect(err).NotTo(HaveOccurred())
		go func() { done <- app.Run(ctx) }()
		Eventually(app.Ready, 20*time.Second, 50*time.Millisecond).Should(BeTrue())
	})

	AfterAll(func() {
		cancel()
		Eventually(done, 10*time.Second).Should(Receive(BeNil()))
	})

	It("starts the VM whose MAC a real wakeonlan broadcast carries, on every configured port", func() {
		create(ctx, haltedVM("lab", "vm1", "52:54:00:aa:00:01"), haltedVM("lab", "vm2", "52:54:00:aa:00:02"))
		Eventually(func() error { _, err := lan.Exec("sender", "true"); return err }).Should(Succeed())

		wakeonlan(40009, "52:54:00:AA:00:01")
		Eventually(runStrategy(ctx, "lab", "vm1"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
		wakeonlan(40007, "52:54:00:aa:00:02")
		Eventually(runStrategy(ctx, "lab", "vm2"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways),
			func() string { return metrictest.Dump(app.Registry(), "wol_") })

		By("recording an Event on the VM naming the source and the node")
		Eventually(func() []string {
			list := &corev1.EventList{}
			Expect(admin.List(ctx, list, client.InNamespace("lab"))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.InvolvedObject.Name == "vm1" && e.Reason == "WokenByMagicPacket" {
					notes = append(notes, e.Message)
				}
			}
			return notes
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(And(
			ContainSubstring(lan.Host("sender").IP.String()), ContainSubstring("node-a"))))
	})

	It("does not start a VM outside the scope, until the scope changes, without a restart", func() {
		create(ctx, haltedVM("other", "outside", "52:54:00:aa:00:03"))
		wakeonlan(40009, "52:54:00:aa:00:03")
		// A later packet for an in-scope VM is handled after the first one
		// (one socket, one queue), so once it has worked the first was seen.
		create(ctx, haltedVM("lab", "marker", "52:54:00:aa:00:04"))
		Eventually(func() bool {
			wakeonlan(40009, "52:54:00:aa:00:04")
			return runStrategy(ctx, "lab", "marker")() == kubevirtv1.RunStrategyAlways
		}, 10*time.Second, 200*time.Millisecond).Should(BeTrue())
		Expect(runStrategy(ctx, "other", "outside")()).To(Equal(kubevirtv1.RunStrategyHalted))

		wc := &wolv1beta1.WolConfig{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "lab"}, wc)).To(Succeed())
		wc.Spec.NamespaceSelectors = []string{"lab", "other"}
		grantAccess(ctx, wc) // the operator's part
		Expect(admin.Update(ctx, wc)).To(Succeed())
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			wakeonlan(40009, "52:54:00:aa:00:03")
			return runStrategy(ctx, "other", "outside")()
		}, 10*time.Second, 300*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
	})

	It("rebinds when the ports change, without a restart", func() {
		create(ctx, haltedVM("lab", "vm5", "52:54:00:aa:00:05"), haltedVM("lab", "vm6", "52:54:00:aa:00:06"))
		wc := &wolv1beta1.WolConfig{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "lab"}, wc)).To(Succeed())
		wc.Spec.WolPorts = []int32{40011}
		Expect(admin.Update(ctx, wc)).To(Succeed())
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			wakeonlan(40011, "52:54:00:aa:00:05")
			return runStrategy(ctx, "lab", "vm5")()
		}, 10*time.Second, 300*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
		wakeonlan(40009, "52:54:00:aa:00:06")
		Consistently(runStrategy(ctx, "lab", "vm6"), 2*time.Second, 100*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))
		Expect(app.Ready()).To(BeTrue())
	})

	It("hears raw Ethernet frames from etherwake once raw mode is switched on", func() {
		create(ctx, haltedVM("lab", "vm7", "52:54:00:aa:00:07"))
		wc := &wolv1beta1.WolConfig{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "lab"}, wc)).To(Succeed())
		wc.Spec.RawEthernet.Enabled = true
		Expect(admin.Update(ctx, wc)).To(Succeed())
		Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
			out, err := lan.Exec("sender", "etherwake", "-i", netlab.Iface, "-b", "52:54:00:aa:00:07")
			Expect(err).NotTo(HaveOccurred(), out)
			return runStrategy(ctx, "lab", "vm7")()
		}, 10*time.Second, 300*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
	})

	It("serves metrics only to callers the API server authorizes, and probes to anyone", func() {
		// The scraper is another host on the LAN: the endpoint is on the
		// node's (host) network, like a listener pod's.
		httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext:     lan.Host("sender").DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed, as in a pod
		}}
		_, port, err := net.SplitHostPort(app.MetricsAddr())
		Expect(err).NotTo(HaveOccurred())
		base := "https://" + net.JoinHostPort(lan.Host("node").IP.String(), port)
		get := func(path, token string) (int, string) {
			code, body, err := metrictest.Get(httpc, base+path, token)
			Expect(err).NotTo(HaveOccurred())
			return code, body
		}

		code, _ := get("/readyz", "")
		Expect(code).To(Equal(http.StatusOK))
		code, _ = get("/metrics", "")
		Expect(code).To(Equal(http.StatusUnauthorized))

		kube, err := kubernetes.NewForConfig(adminCfg)
		Expect(err).NotTo(HaveOccurred())
		token := func(sa string) string {
			create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})
			tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			return tr.Status.Token
		}
		nobody := token("nobody")
		code, _ = get("/metrics", nobody)
		Expect(code).To(Equal(http.StatusForbidden))

		scraper := token("prometheus")
		create(ctx,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
				Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "prometheus"}}},
		)
		var body string
		Eventually(func() int { code, body = get("/metrics", scraper); return code }, 10*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
		for _, want := range []string{
			`wol_packets_total{protocol="udp4",result="accepted"}`,
			`wol_vm_started_total`,
			`wol_managed_vms`,
			`wol_wake_lookups_total{result="found"}`,
		} {
			Expect(body).To(ContainSubstring(want))
		}
		started := metrictest.TextValue(body, "wol_vm_started_total")
		Expect(started).To(BeNumerically("==", 6), "six VMs were started:\n%s", body)
	})
})
