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

package v1beta1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/go-logr/logr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/controller"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
)

var nameSeq atomic.Int64

// newWolConfig returns an unstructured WolConfig with a unique name and the
// spec given as YAML, as a user would write it.
func newWolConfig(specYAML string) *unstructured.Unstructured {
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(specYAML), &spec)).To(Succeed())
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": wolv1beta1.GroupVersion.String(),
		"kind":       "WolConfig",
		"metadata":   map[string]any{"name": fmt.Sprintf("wc-%d", nameSeq.Add(1))},
		"spec":       spec,
	}}
	return u
}

// refusal is one invalid spec and what the API server must say about it.
type refusal struct {
	spec    string
	field   string // the field path the error names
	message string // a part of the message
}

var _ = Describe("WolConfig validation", func() {
	ctx := context.Background()

	DescribeTable("refuses an invalid spec with a message naming the field",
		func(r refusal) {
			err := k8sClient.Create(ctx, newWolConfig(r.spec))
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid spec")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
			status, ok := err.(apierrors.APIStatus)
			Expect(ok).To(BeTrue())
			var found []string
			for _, c := range status.Status().Details.Causes {
				found = append(found, c.Field+": "+c.Message)
				if c.Field == r.field && strings.Contains(c.Message, r.message) {
					return
				}
			}
			Fail(fmt.Sprintf("no cause for field %q containing %q; causes:\n%s", r.field, r.message, strings.Join(found, "\n")))
		},
		Entry("unknown discovery mode", refusal{
			spec:  `discoveryMode: Everything`,
			field: "spec.discoveryMode", message: `supported values: "All", "LabelSelector", "Explicit"`}),
		Entry("LabelSelector without vmSelector", refusal{
			spec:  `discoveryMode: LabelSelector`,
			field: "spec.vmSelector", message: "vmSelector is required when discoveryMode is LabelSelector"}),
		Entry("Explicit without mappings", refusal{
			spec:  `discoveryMode: Explicit`,
			field: "spec.explicitMappings", message: "must list at least one mapping when discoveryMode is Explicit"}),
		Entry("Explicit with an empty mapping list", refusal{
			spec:  "discoveryMode: Explicit\nexplicitMappings: []",
			field: "spec.explicitMappings", message: "must list at least one mapping when discoveryMode is Explicit"}),
		Entry("vmSelector in All mode", refusal{
			spec:  "discoveryMode: All\nvmSelector: {matchLabels: {a: b}}",
			field: "spec.vmSelector", message: "vmSelector is only used when discoveryMode is LabelSelector"}),
		Entry("vmSelector in the default mode", refusal{
			spec:  "vmSelector: {matchLabels: {a: b}}",
			field: "spec.vmSelector", message: "vmSelector is only used when discoveryMode is LabelSelector"}),
		Entry("mappings in LabelSelector mode", refusal{
			spec: "discoveryMode: LabelSelector\nvmSelector: {matchLabels: {a: b}}\n" +
				"explicitMappings: [{macAddress: '52:54:00:12:34:56', vmName: vm, namespace: default}]",
			field: "spec.explicitMappings", message: "explicitMappings is only used when discoveryMode is Explicit"}),
		Entry("namespaceSelectors in Explicit mode", refusal{
			spec: "discoveryMode: Explicit\nnamespaceSelectors: [default]\n" +
				"explicitMappings: [{macAddress: '52:54:00:12:34:56', vmName: vm, namespace: default}]",
			field: "spec.namespaceSelectors", message: "not used when discoveryMode is Explicit"}),
		Entry("a MAC that is not six hex pairs", refusal{
			spec:  explicit("52:54:00:12:34:5g"),
			field: "spec.explicitMappings[0].macAddress", message: "must be six pairs of hexadecimal digits"}),
		Entry("a MAC with mixed separators", refusal{
			spec:  explicit("52:54-00:12:34:56"),
			field: "spec.explicitMappings[0].macAddress", message: "must be six pairs of hexadecimal digits"}),
		Entry("a MAC without separators", refusal{
			spec:  explicit("525400123456"),
			field: "spec.explicitMappings[0].macAddress", message: "should be at least 17 chars long"}),
		Entry("the broadcast MAC", refusal{
			spec:  explicit("FF:FF:FF:FF:FF:FF"),
			field: "spec.explicitMappings[0].macAddress", message: "must not be the broadcast address"}),
		Entry("the all-zero MAC", refusal{
			spec:  explicit("00-00-00-00-00-00"),
			field: "spec.explicitMappings[0].macAddress", message: "must not be the all-zero address"}),
		Entry("a multicast MAC", refusal{
			spec:  explicit("01:00:5e:00:00:fb"),
			field: "spec.explicitMappings[0].macAddress", message: "must not be a multicast address"}),
		Entry("a multicast MAC in upper case", refusal{
			spec:  explicit("33-33-00-00-00-0F"),
			field: "spec.explicitMappings[0].macAddress", message: "must not be a multicast address"}),
		Entry("the same MAC twice, written differently", refusal{
			spec: "discoveryMode: Explicit\nexplicitMappings:\n" +
				"- {macAddress: '52:54:00:AA:BB:CC', vmName: a, namespace: default}\n" +
				"- {macAddress: '52-54-00-aa-bb-cc', vmName: b, namespace: default}",
			field: "spec.explicitMappings", message: "each macAddress may appear only once"}),
		Entry("a vmName that is not a DNS name", refusal{
			spec:  "discoveryMode: Explicit\nexplicitMappings: [{macAddress: '52:54:00:12:34:56', vmName: My_VM, namespace: default}]",
			field: "spec.explicitMappings[0].vmName", message: "should match"}),
		Entry("a namespace that is not a DNS label", refusal{
			spec:  "discoveryMode: Explicit\nexplicitMappings: [{macAddress: '52:54:00:12:34:56', vmName: vm, namespace: prod.eu}]",
			field: "spec.explicitMappings[0].namespace", message: "should match"}),
		Entry("a mapping without vmName", refusal{
			spec:  "discoveryMode: Explicit\nexplicitMappings: [{macAddress: '52:54:00:12:34:56', namespace: default}]",
			field: "spec.explicitMappings[0].vmName", message: "Required value"}),
		Entry("port 0", refusal{
			spec:  `wolPorts: [0]`,
			field: "spec.wolPorts[0]", message: "should be greater than or equal to 1"}),
		Entry("port 65536", refusal{
			spec:  `wolPorts: [9, 65536]`,
			field: "spec.wolPorts[1]", message: "should be less than or equal to 65535"}),
		Entry("a duplicate port", refusal{
			spec:  `wolPorts: [9, 7, 9]`,
			field: "spec.wolPorts[2]", message: "Duplicate value: 9"}),
		Entry("an empty port list", refusal{
			spec:  `wolPorts: []`,
			field: "spec.wolPorts", message: "should have at least 1 items"}),
		Entry("more than 16 ports", refusal{
			spec:  `wolPorts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]`,
			field: "spec.wolPorts", message: "must have at most 16 items"}),
		Entry("a negative cacheTTL", refusal{
			spec:  `cacheTTL: -1`,
			field: "spec.cacheTTL", message: "should be greater than or equal to 0"}),
		Entry("a namespace selector that is not a valid name", refusal{
			spec:  `namespaceSelectors: [default, "Prod_NS"]`,
			field: "spec.namespaceSelectors[1]", message: "should match"}),
		Entry("the same namespace twice", refusal{
			spec:  `namespaceSelectors: [default, default]`,
			field: "spec.namespaceSelectors[1]", message: "Duplicate value"}),
		Entry("promiscuous without raw mode", refusal{
			spec:  "interfaces: [eth0]\nrawEthernet: {promiscuous: true}",
			field: "spec.rawEthernet.promiscuous", message: "needs rawEthernet.enabled: true"}),
		Entry("promiscuous without an interface list", refusal{
			spec:  "rawEthernet: {enabled: true, promiscuous: true}",
			field: "spec.rawEthernet.promiscuous", message: "listed in spec.interfaces"}),
		Entry("an interface name with a slash", refusal{
			spec:  "interfaces: [eth0, ../x]",
			field: "spec.interfaces[1]", message: "should match"}),
		Entry("an interface name longer than the kernel allows", refusal{
			spec:  "interfaces: [a-very-long-interface-name]",
			field: "spec.interfaces[0]", message: "may not be more than 15 bytes"}),
		Entry("a zero dedupe window", refusal{
			spec:  "dedupeWindowSeconds: 0",
			field: "spec.dedupeWindowSeconds", message: "should be greater than or equal to 1"}),
		Entry("a zero global rate", refusal{
			spec:  "rateLimit: {globalPerMinute: 0}",
			field: "spec.rateLimit.globalPerMinute", message: "should be greater than or equal to 1"}),
		Entry("a zero per-source burst", refusal{
			spec:  "rateLimit: {perSourceBurst: 0}",
			field: "spec.rateLimit.perSourceBurst", message: "should be greater than or equal to 1"}),
		Entry("metrics port 0", refusal{
			spec:  "listener: {metricsPort: 0}",
			field: "spec.listener.metricsPort", message: "should be greater than or equal to 1"}),
		Entry("negative replicas", refusal{
			spec:  `listener: {replicas: -1}`,
			field: "spec.listener.replicas", message: "should be greater than or equal to 0"}),
		Entry("a zero wake deadline", refusal{
			spec:  "wakeDeadlineSeconds: 0",
			field: "spec.wakeDeadlineSeconds", message: "should be greater than or equal to 1"}),
		Entry("a wake deadline over an hour", refusal{
			spec:  "wakeDeadlineSeconds: 3601",
			field: "spec.wakeDeadlineSeconds", message: "should be less than or equal to 3600"}),
		Entry("secureOn without a key", refusal{
			spec:  "secureOn: {}",
			field: "spec.secureOn.passwordKey", message: "Required value"}),
		Entry("a secureOn key that cannot be a Secret key", refusal{
			spec:  "secureOn: {passwordKey: 'my/key'}",
			field: "spec.secureOn.passwordKey", message: "should match"}),
		Entry("a source that is neither an address nor a CIDR", refusal{
			spec:  "allowedSources: {cidrs: ['10.0.0.0/24', 'lan']}",
			field: "spec.allowedSources.cidrs[1]", message: "must be an IP address (192.0.2.7, fd00::7) or a network in CIDR notation"}),
		Entry("a CIDR with a prefix too long", refusal{
			spec:  "allowedSources: {cidrs: ['10.0.0.0/33']}",
			field: "spec.allowedSources.cidrs[0]", message: "must be an IP address"}),
		Entry("an IPv6 address with a zone", refusal{
			spec:  "allowedSources: {cidrs: ['fe80::1%eth0']}",
			field: "spec.allowedSources.cidrs[0]", message: "must be an IP address"}),
		Entry("the same source twice", refusal{
			spec:  "allowedSources: {cidrs: ['10.0.0.0/24', '10.0.0.0/24']}",
			field: "spec.allowedSources.cidrs[1]", message: "Duplicate value"}),
		Entry("a source MAC that is not six hex pairs", refusal{
			spec:  "allowedSources: {macs: ['52:54:00:12:34:zz']}",
			field: "spec.allowedSources.macs[0]", message: "must be six pairs of hexadecimal digits"}),
		Entry("a broadcast source MAC", refusal{
			spec:  "allowedSources: {macs: ['ff:ff:ff:ff:ff:ff']}",
			field: "spec.allowedSources.macs[0]", message: "must not be the broadcast address"}),
		Entry("a multicast source MAC", refusal{
			spec:  "allowedSources: {macs: ['01:00:5e:00:00:01']}",
			field: "spec.allowedSources.macs[0]", message: "must not be a multicast address"}),
	)

	DescribeTable("refuses a name that cannot name the listener's objects",
		func(name string) {
			u := newWolConfig(`{}`)
			u.SetName(name)
			err := k8sClient.Create(ctx, u)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring("metadata.name must be a DNS label of at most 50 characters"))
		},
		Entry("with a dot", "wol.config"),
		Entry("starting with a digit", "1wol"),
		Entry("longer than 50 characters", strings.Repeat("w", 51)),
	)

	It("accepts the three samples in config/samples", func() {
		files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "wol_v1beta1_wolconfig_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(3))
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(data, &u.Object)).To(Succeed())
			Expect(k8sClient.Create(ctx, u)).To(Succeed(), "sample %s", f)
			Expect(k8sClient.Delete(ctx, u)).To(Succeed())
		}
	})

	It("accepts MACs in either separator and any case", func() {
		u := newWolConfig("discoveryMode: Explicit\nexplicitMappings:\n" +
			"- {macAddress: '52:54:00:AA:bb:CC', vmName: a, namespace: default}\n" +
			"- {macAddress: '52-54-00-aa-bb-cd', vmName: a, namespace: default}\n" +
			"- {macAddress: '02:00:00:00:00:01', vmName: b.c, namespace: other-ns}")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
	})

	It("accepts SecureOn and source allow-lists", func() {
		u := newWolConfig("secureOn: {passwordKey: office.pw}\n" +
			"allowedSources:\n" +
			"  cidrs: ['192.0.2.0/24', '192.0.2.7', '10.1.2.3/16', 'fd00::/64', '2001:db8::1']\n" +
			"  macs: ['52:54:00:AA:bb:cc', '02-00-00-00-00-01']\n" +
			"wakeDeadlineSeconds: 30")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		got := &wolv1beta1.WolConfig{}
		Expect(k8sClient.Get(ctx, clientKey(u.GetName()), got)).To(Succeed())
		Expect(got.Spec.SecureOn).To(Equal(&wolv1beta1.SecureOnSpec{PasswordKey: "office.pw"}))
		Expect(got.Spec.AllowedSources.CIDRs).To(HaveLen(5))
		Expect(got.Spec.WakeDeadlineSeconds).To(HaveValue(Equal(int32(30))))
	})

	It("applies exactly the defaults of api/v1beta1/defaults.go (the markers say the same)", func() {
		u := newWolConfig(`{}`)
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		got := &wolv1beta1.WolConfig{}
		Expect(k8sClient.Get(ctx, clientKey(u.GetName()), got)).To(Succeed())
		Expect(got.Spec).To(Equal(wolv1beta1.DefaultSpec()))
		Expect(got.Spec.RawEthernet.Enabled).To(BeFalse())
		Expect(got.Spec.DirectPatchFallback).To(BeFalse(), "no write on VMs by default")
		Expect(got.Spec.SecureOn).To(BeNil(), "no password by default")
		Expect(got.Spec.AllowedSources).To(BeZero(), "every source by default")

		By("and they are the Go defaults of the code that uses them")
		fromAPI, err := listenerapp.ReceiverConfig(got.Spec, logr.Discard())
		Expect(err).NotTo(HaveOccurred())
		fromZero := receiver.Config{Ports: receiver.DefaultPorts()}
		Expect(fromAPI.WithDefaults()).To(Equal(fromZero.WithDefaults()), "the packet engine's defaults")
		emptyScope, err := vmindex.ScopeFromSpec(wolv1beta1.WolConfigSpec{})
		Expect(err).NotTo(HaveOccurred())
		defaultedScope, err := vmindex.ScopeFromSpec(got.Spec)
		Expect(err).NotTo(HaveOccurred())
		Expect(defaultedScope.Resync()).To(Equal(emptyScope.Resync()), "the VM index's resync")
		Expect(defaultedScope.Mode()).To(Equal(emptyScope.Mode()))
		Expect(wake.PolicyOf(got.Spec)).To(Equal(wake.PolicyOf(wolv1beta1.WolConfigSpec{})), "the wake policy's deadline")
		Expect(controller.BuildDeployment(got, controller.Params{Namespace: "ns"})).
			To(Equal(controller.BuildDeployment(&wolv1beta1.WolConfig{ObjectMeta: got.ObjectMeta}, controller.Params{Namespace: "ns"})),
				"the operator's listener Deployment (replicas, ports, metrics port)")
	})

	It("applies the defaults when spec is left out entirely", func() {
		u := newWolConfig(`{}`)
		unstructured.RemoveNestedField(u.Object, "spec")
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		got := &wolv1beta1.WolConfig{}
		Expect(k8sClient.Get(ctx, clientKey(u.GetName()), got)).To(Succeed())
		Expect(got.Spec.DiscoveryMode).To(Equal(wolv1beta1.DiscoveryModeAll))
		Expect(got.Spec.WolPorts).To(Equal([]int32{9}))
	})
})

// explicit is an Explicit-mode spec with one mapping for mac.
func explicit(mac string) string {
	return fmt.Sprintf("discoveryMode: Explicit\nexplicitMappings: [{macAddress: %q, vmName: vm, namespace: default}]", mac)
}

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
