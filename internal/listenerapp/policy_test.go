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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Who may wake what, with real senders: SecureOn passwords (WolConfig-wide
// and per VM, per-VM winning) sent by etherwake -p, and a source allow-list.
var _ = Describe("Wake policy", Ordered, func() {
	ctx := context.Background()
	const (
		vmNS     = "secure"
		port     = 40101
		officePW = "192.168.1.4"       // the WolConfig-wide password (dotted form)
		ownPW    = "00:11:22:aa:bb:cc" // the per-VM password (hex form)
	)
	var r *running
	strategyOf := func(name string) func() kubevirtv1.VirtualMachineRunStrategy { return runStrategy(ctx, vmNS, name) }

	BeforeAll(func() {
		namespaces(ctx, vmNS)
		create(ctx,
			secureOnSecret(ns, map[string][]byte{"office": []byte(officePW + "\n")}),
			secureOnSecret(vmNS, map[string][]byte{"own": []byte(ownPW)}),
		)
		create(ctx,
			vmNamed(vmNS, "wide", "52:54:00:5e:00:01", ""),
			vmNamed(vmNS, "wide-2", "52:54:00:5e:00:02", ""),
			vmNamed(vmNS, "own", "52:54:00:5e:00:03", "own"),
			vmNamed(vmNS, "from-intruder", "52:54:00:5e:00:04", ""),
		)
		wc := &wolv1beta1.WolConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "secure"},
			Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{vmNS},
				WolPorts:           []int32{port},
				Interfaces:         []string{netlab.Iface},
				RawEthernet:        wolv1beta1.RawEthernetSpec{Enabled: true},
				SecureOn:           &wolv1beta1.SecureOnSpec{PasswordKey: "office"},
			},
		}
		r = startApp(ctx, wc, appOptions{secureOnNamespaces: []string{ns, vmNS}})
	})

	It("refuses a packet without the password, and one with a wrong password, with an event on the VM", func() {
		wakeonlan(port, "52:54:00:5e:00:01") // wakeonlan sends no password
		Eventually(func() float64 { return r.metric("wol_wakes_refused_total", "reason", "password_missing") }, 10*time.Second).
			Should(Equal(1.0))
		etherwake("sender", "52:54:00:5e:00:01", "192.168.1.5")
		Eventually(func() float64 { return r.metric("wol_wakes_refused_total", "reason", "password_wrong") }, 10*time.Second).
			Should(Equal(1.0))
		Consistently(strategyOf("wide"), time.Second, 100*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))
		Eventually(func() []string { return vmEvents(ctx, vmNS, "wide") }, 10*time.Second).
			Should(ContainElement(wake.EventReasonSecureOnRefused))
	})

	It("wakes with the WolConfig's password, a moment after a wrong one for the same VM", func() {
		// The wrong password was admitted a moment ago for the same target:
		// the dedupe key includes the password, so the right one is not a
		// duplicate of it.
		etherwake("sender", "52:54:00:5e:00:01", officePW)
		Eventually(strategyOf("wide"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
		Expect(r.metric("wol_dropped_packets_total", "reason", "duplicate")).To(BeZero())
	})

	It("uses the VM's own password rather than the WolConfig's", func() {
		etherwake("sender", "52:54:00:5e:00:03", officePW)
		Eventually(func() float64 { return r.metric("wol_wakes_refused_total", "reason", "password_wrong") }, 10*time.Second).
			Should(Equal(2.0))
		Consistently(strategyOf("own"), time.Second, 100*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))
		etherwake("sender", "52:54:00:5e:00:03", ownPW)
		Eventually(strategyOf("own"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
	})

	It("never logs a password", func() {
		logs := string(r.logs.Contents())
		Expect(logs).To(ContainSubstring("Wake refused"))
		for _, secret := range []string{officePW, ownPW, "192.168.1.5", "c0 a8 01 04", "c0a80104", "001122aabbcc"} {
			Expect(strings.Contains(logs, secret)).To(BeFalse(), "the logs contain %q", secret)
		}
	})

	It("refuses senders outside the allow-list before admission, and counts them", func() {
		wc := &wolv1beta1.WolConfig{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "secure"}, wc)).To(Succeed())
		wc.Spec.SecureOn = nil
		wc.Spec.AllowedSources = wolv1beta1.AllowedSourcesSpec{
			CIDRs: []wolv1beta1.SourceCIDR{wolv1beta1.SourceCIDR(lan.Host("sender").IP.String())},
			MACs:  []wolv1beta1.MACAddress{wolv1beta1.MACAddress(lan.Host("sender").MAC.String())},
		}
		Expect(admin.Update(ctx, wc)).To(Succeed())
		// The packet engine restarts with the allow-list: wait until an
		// intruder's packet is refused.
		pkt := wol.AppendMagic(nil, mustMAC("52:54:00:5e:00:04"), nil)
		Eventually(func() float64 {
			sendUDP("intruder", port, pkt)
			return r.metric("wol_dropped_packets_total", "protocol", "udp4", "reason", "source")
		}, 10*time.Second, 200*time.Millisecond).Should(BeNumerically(">=", 1))
		udpRefused := r.metric("wol_dropped_packets_total", "protocol", "udp4", "reason", "source")
		Expect(r.metric("wol_packets_total", "protocol", "udp4", "result", "refused")).To(Equal(udpRefused))

		etherwake("intruder", "52:54:00:5e:00:04", "")
		Eventually(func() float64 { return r.metric("wol_dropped_packets_total", "protocol", "raw", "reason", "source") }, 10*time.Second).
			Should(Equal(1.0))
		Consistently(strategyOf("from-intruder"), time.Second, 100*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyHalted))

		By("while the allowed sender wakes a VM by UDP and by raw frame")
		sendUDP("sender", port, wol.AppendMagic(nil, mustMAC("52:54:00:5e:00:04"), nil))
		Eventually(strategyOf("from-intruder"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
		etherwake("sender", "52:54:00:5e:00:02", "")
		Eventually(strategyOf("wide-2"), 10*time.Second, 50*time.Millisecond).Should(Equal(kubevirtv1.RunStrategyAlways))
	})
})

func mustMAC(s string) wol.MAC {
	m, err := wol.ParseMAC(s)
	Expect(err).NotTo(HaveOccurred())
	return m
}
