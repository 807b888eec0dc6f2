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
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
	"github.com/gpillon/kubevirt-wol/pkg/wol"

	"golang.org/x/sys/unix"
)

// badInput is one entry of the catalogue: something bad sent to the
// listener, or to the API server, and the refusal it must meet.
type badInput struct {
	// udp or frame is sent from the "sender" host, as a UDP datagram to the
	// listener's port or as a raw Ethernet frame on the LAN.
	udp, frame []byte
	// counter (name, label pairs) must grow by exactly one.
	counter []string
	// vm, if set, must not be started (namespace/name).
	vm string
	// event, if set, must be recorded on vm.
	event string

	// wolConfig is a WolConfig spec (YAML) the API server must refuse with
	// a cause naming field and containing message.
	wolConfig, field, message string

	// parse, if set, is a rejection only the parser can be shown (the
	// kernel filter never lets such a frame reach the listener): the frame
	// must be refused with that reason.
	parse wol.Reason
}

// The catalogue's listener, shared by every entry.
var catalogue *running

const (
	badNS         = "badinput"
	badNSSecret   = "badinput-nosecret"
	badNSNoRBAC   = "badinput-norbac"
	cataloguePort = 40401
)

// magicFor is a valid magic packet for mac with password pw. (It is called
// while the table is built, where assertions are not allowed.)
func magicFor(mac string, pw ...byte) []byte {
	m, err := wol.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return wol.AppendMagic(nil, m, pw)
}

// rawFrame wraps a payload in an Ethernet header (broadcast, ethertype
// 0x0842, from a locally administered source MAC).
func rawFrame(payload []byte) []byte {
	b := append([]byte{}, wol.Broadcast[:]...)
	b = append(b, 0x02, 0x00, 0x00, 0xba, 0x00, 0x01)
	b = binary.BigEndian.AppendUint16(b, wol.EtherType)
	return append(b, payload...)
}

// sendFrame sends one raw Ethernet frame from the sender's LAN interface.
func sendFrame(frame []byte) {
	GinkgoHelper()
	Expect(netns.Run(lan.Host("sender").Path(), func() error {
		ifi, err := net.InterfaceByName(netlab.Iface)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer func() { _ = unix.Close(fd) }()
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Protocol: 0x4208} // htons(0x0842)
		copy(to.Addr[:], wol.Broadcast[:])
		return unix.Sendto(fd, frame, 0, to)
	})).To(Succeed())
}

func mismatched(mac string) []byte {
	p := magicFor(mac)
	p[len(p)-1] ^= 0x01 // the last repetition differs
	return p
}

var _ = Describe("Bad input catalogue", Ordered, func() {
	ctx := context.Background()

	BeforeAll(func() {
		namespaces(ctx, badNS, badNSSecret, badNSNoRBAC)
		create(ctx,
			secureOnSecret(badNS, map[string][]byte{
				"five": []byte("abcde"), "three": []byte("abc"), "seven": []byte("abcdefg"), "eight": []byte("abcdefgh"),
				"empty": {}, "text": []byte("300.1.2.3"), "hex5": []byte("00:11:22:33:44"),
			}),
			secureOnSecret(badNSNoRBAC, map[string][]byte{"x": []byte("1.2.3.4")}),
			vmNamed(badNS, "len-5", "52:54:00:ba:00:05", "five"),
			vmNamed(badNS, "len-3", "52:54:00:ba:00:03", "three"),
			vmNamed(badNS, "len-7", "52:54:00:ba:00:07", "seven"),
			vmNamed(badNS, "len-8", "52:54:00:ba:00:08", "eight"),
			vmNamed(badNS, "len-0", "52:54:00:ba:00:00", "empty"),
			vmNamed(badNS, "bad-text", "52:54:00:ba:00:10", "text"),
			vmNamed(badNS, "bad-hex", "52:54:00:ba:00:11", "hex5"),
			vmNamed(badNS, "missing-key", "52:54:00:ba:00:12", "not-there"),
			vmNamed(badNSSecret, "missing-secret", "52:54:00:ba:00:13", "x"),
			vmNamed(badNSNoRBAC, "no-access", "52:54:00:ba:00:14", "x"),
		)
		catalogue = startApp(ctx, &wolv1beta1.WolConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "catalogue"},
			Spec: wolv1beta1.WolConfigSpec{
				NamespaceSelectors: []string{badNS, badNSSecret, badNSNoRBAC},
				WolPorts:           []int32{cataloguePort},
				Interfaces:         []string{netlab.Iface},
				RawEthernet:        wolv1beta1.RawEthernetSpec{Enabled: true},
			},
		}, appOptions{secureOnNamespaces: []string{badNS, badNSSecret}}) // the operator would grant badNSNoRBAC too; this proves failing closed
		Eventually(func() float64 { return catalogue.metric("wol_managed_vms") }, 10*time.Second).Should(Equal(10.0))
	})

	DescribeTable("refuses it, each with its expected refusal",
		func(b badInput) {
			if b.parse != 0 {
				_, err := wol.ParseFrame(b.frame)
				Expect(wol.ReasonOf(err)).To(Equal(b.parse))
				return
			}
			if b.wolConfig != "" {
				spec := map[string]any{}
				Expect(yaml.Unmarshal([]byte(b.wolConfig), &spec)).To(Succeed())
				u := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": wolv1beta1.GroupVersion.String(), "kind": "WolConfig",
					"metadata": map[string]any{"generateName": "bad-"}, "spec": spec,
				}}
				err := admin.Create(ctx, u)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
				var causes []string
				for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
					if c.Field == b.field && strings.Contains(c.Message, b.message) {
						return
					}
					causes = append(causes, c.Field+": "+c.Message)
				}
				Fail(fmt.Sprintf("no cause on %s containing %q:\n%s", b.field, b.message, strings.Join(causes, "\n")))
			}

			before := catalogue.metric(b.counter[0], b.counter[1:]...)
			if b.udp != nil {
				sendUDP("sender", cataloguePort, b.udp)
			} else {
				sendFrame(b.frame)
			}
			Eventually(func() float64 { return catalogue.metric(b.counter[0], b.counter[1:]...) }, 10*time.Second).
				Should(Equal(before+1), "%v", b.counter)
			Consistently(func() float64 { return catalogue.metric(b.counter[0], b.counter[1:]...) }, 300*time.Millisecond).
				Should(Equal(before + 1))
			if b.vm != "" {
				namespace, name, _ := strings.Cut(b.vm, "/")
				Expect(runStrategy(ctx, namespace, name)()).To(Equal(kubevirtv1.RunStrategyHalted))
				if b.event != "" {
					Eventually(func() []string { return vmEvents(ctx, namespace, name) }, 10*time.Second).Should(ContainElement(b.event))
				}
			}
		},

		// Malformed packets, of every kind the packet engine tells apart,
		// over real UDP and raw sockets.
		Entry("UDP: shorter than a magic packet", badInput{udp: []byte("wake up"),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "too_short"}}),
		Entry("UDP: no synchronisation stream", badInput{udp: make([]byte, 200),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "no_sync"}}),
		Entry("UDP: the sixteen repetitions disagree", badInput{udp: mismatched("52:54:00:ba:01:01"),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "mismatch"}}),
		Entry("UDP: truncated after the synchronisation stream", badInput{udp: magicFor("52:54:00:ba:01:02")[:60],
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "too_short"}}),
		Entry("UDP: broadcast target", badInput{udp: wol.AppendMagic(nil, wol.Broadcast, nil),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "bad_target"}}),
		Entry("UDP: multicast target", badInput{udp: magicFor("01:00:5e:00:00:01"),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "bad_target"}}),
		Entry("UDP: all-zero target", badInput{udp: wol.AppendMagic(nil, wol.MAC{}, nil),
			counter: []string{"wol_dropped_packets_total", "protocol", "udp4", "reason", "bad_target"}}),
		Entry("UDP: a valid packet for a MAC no VM has", badInput{udp: magicFor("52:54:00:ba:ff:ff"),
			counter: []string{"wol_wake_lookups_total", "result", "not_found"}}),
		Entry("raw: a frame too short for a magic packet", badInput{frame: rawFrame([]byte("short")),
			counter: []string{"wol_dropped_packets_total", "protocol", "raw", "reason", "too_short"}}),
		Entry("raw: no synchronisation stream", badInput{frame: rawFrame(make([]byte, 120)),
			counter: []string{"wol_dropped_packets_total", "protocol", "raw", "reason", "no_sync"}}),
		Entry("raw: the repetitions disagree", badInput{frame: rawFrame(mismatched("52:54:00:ba:01:03")),
			counter: []string{"wol_dropped_packets_total", "protocol", "raw", "reason", "mismatch"}}),
		Entry("raw: multicast target", badInput{frame: rawFrame(magicFor("33:33:00:00:00:01")),
			counter: []string{"wol_dropped_packets_total", "protocol", "raw", "reason", "bad_target"}}),
		Entry("raw: another ethertype (dropped by the kernel filter; the parser refuses it too)", badInput{
			frame: append(append(append([]byte{}, wol.Broadcast[:]...), wol.Broadcast[:]...), append([]byte{0x08, 0x00}, magicFor("52:54:00:ba:01:04")...)...),
			parse: wol.ReasonNotWoLEthertype}),

		// Invalid WolConfigs, refused by the API server with the field named.
		Entry("WolConfig: a source that is not a CIDR", badInput{wolConfig: "allowedSources: {cidrs: ['10.0.0.0/8', 'office']}",
			field: "spec.allowedSources.cidrs[1]", message: "must be an IP address"}),
		Entry("WolConfig: a source MAC that is broadcast", badInput{wolConfig: "allowedSources: {macs: ['FF-FF-FF-FF-FF-FF']}",
			field: "spec.allowedSources.macs[0]", message: "must not be the broadcast address"}),
		Entry("WolConfig: a SecureOn key that no Secret may have", badInput{wolConfig: "secureOn: {passwordKey: 'a key'}",
			field: "spec.secureOn.passwordKey", message: "should match"}),
		Entry("WolConfig: a zero wake deadline", badInput{wolConfig: "wakeDeadlineSeconds: 0",
			field: "spec.wakeDeadlineSeconds", message: "greater than or equal to 1"}),
		Entry("WolConfig: a mapping to a multicast MAC", badInput{
			wolConfig: "discoveryMode: Explicit\nexplicitMappings: [{macAddress: '01:00:5e:00:00:01', vmName: vm, namespace: default}]",
			field:     "spec.explicitMappings[0].macAddress", message: "must not be a multicast address"}),
		Entry("WolConfig: promiscuous mode without raw mode", badInput{wolConfig: "interfaces: [eth0]\nrawEthernet: {promiscuous: true}",
			field: "spec.rawEthernet.promiscuous", message: "needs rawEthernet.enabled: true"}),
		Entry("WolConfig: port 0", badInput{wolConfig: "wolPorts: [0]",
			field: "spec.wolPorts[0]", message: "greater than or equal to 1"}),

		// SecureOn Secrets with a password of the wrong length or form: the
		// VM is refused whatever the packet carries (it fails closed).
		Entry("Secret: a 5-byte password", badInput{udp: magicFor("52:54:00:ba:00:05", 'a', 'b', 'c', 'd', 'e', 'f'),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"},
			vm:      badNS + "/len-5", event: wake.EventReasonSecureOnInvalid}),
		Entry("Secret: a 3-byte password", badInput{udp: magicFor("52:54:00:ba:00:03", 'a', 'b', 'c', 'd'),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"},
			vm:      badNS + "/len-3", event: wake.EventReasonSecureOnInvalid}),
		Entry("Secret: a 7-byte password", badInput{udp: magicFor("52:54:00:ba:00:07", 'a', 'b', 'c', 'd', 'e', 'f'),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"}, vm: badNS + "/len-7"}),
		Entry("Secret: an 8-byte password", badInput{udp: magicFor("52:54:00:ba:00:08", 'a', 'b', 'c', 'd', 'e', 'f'),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"}, vm: badNS + "/len-8"}),
		Entry("Secret: an empty password", badInput{udp: magicFor("52:54:00:ba:00:00"),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"}, vm: badNS + "/len-0"}),
		Entry("Secret: a dotted password out of range", badInput{udp: magicFor("52:54:00:ba:00:10", 1, 2, 3, 4),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"}, vm: badNS + "/bad-text"}),
		Entry("Secret: five hexadecimal pairs", badInput{udp: magicFor("52:54:00:ba:00:11", 0, 0x11, 0x22, 0x33),
			counter: []string{"wol_wakes_refused_total", "reason", "password_invalid"}, vm: badNS + "/bad-hex"}),

		// Annotations pointing to what does not exist, or cannot be read.
		Entry("annotation: a key the Secret does not have", badInput{udp: magicFor("52:54:00:ba:00:12", 1, 2, 3, 4),
			counter: []string{"wol_wakes_refused_total", "reason", "password_unavailable"},
			vm:      badNS + "/missing-key", event: wake.EventReasonSecureOnUnavailable}),
		Entry("annotation: a namespace without the Secret", badInput{udp: magicFor("52:54:00:ba:00:13", 1, 2, 3, 4),
			counter: []string{"wol_wakes_refused_total", "reason", "password_unavailable"},
			vm:      badNSSecret + "/missing-secret", event: wake.EventReasonSecureOnUnavailable}),
		Entry("annotation: a Secret the listener may not read", badInput{udp: magicFor("52:54:00:ba:00:14", 1, 2, 3, 4),
			counter: []string{"wol_wakes_refused_total", "reason", "password_unavailable"},
			vm:      badNSNoRBAC + "/no-access", event: wake.EventReasonSecureOnUnavailable}),
	)
})
