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

package controller

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// defaulted returns a WolConfig as the API server stores it after defaulting.
func defaulted(name string, mutate ...func(*wolv1beta1.WolConfig)) *wolv1beta1.WolConfig {
	wc := &wolv1beta1.WolConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec:       wolv1beta1.DefaultSpec(),
	}
	for _, m := range mutate {
		m(wc)
	}
	return wc
}

func everything(wc *wolv1beta1.WolConfig) {
	wc.Spec.DiscoveryMode = wolv1beta1.DiscoveryModeLabelSelector
	wc.Spec.NamespaceSelectors = []string{"lab", "prod"}
	wc.Spec.VMSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"wol.pillon.org/enabled": "true"}}
	wc.Spec.WolPorts = []int32{7, 9, 40000}
	wc.Spec.Interfaces = []string{"br-lan"}
	wc.Spec.RawEthernet = wolv1beta1.RawEthernetSpec{Enabled: true, Promiscuous: true}
	wc.Spec.Listener = wolv1beta1.ListenerSpec{
		Replicas:          ptr.To[int32](3),
		NodeSelector:      map[string]string{"node-role.kubernetes.io/worker": ""},
		Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "lan", Effect: corev1.TaintEffectNoSchedule}},
		Affinity:          &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "lan", Operator: corev1.NodeSelectorOpExists}}}}}}},
		Resources:         &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: mustQuantity("64Mi")}},
		PriorityClassName: "system-node-critical",
		Image:             "registry.example/wol/listener:custom",
		MetricsPort:       ptr.To[int32](19847),
	}
}

var testParams = Params{Namespace: "kubevirt-wol-system", Image: "quay.io/kubevirt-wol/kubevirt-wol:v0.1.0"}

func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		wc   *wolv1beta1.WolConfig
		p    Params
		vmNS []string // namespaces of VMs in scope with their own SecureOn password
	}{
		{"default", defaulted("wol-config"), testParams, nil},
		{"everything-openshift", defaulted("lab", everything), Params{
			Namespace: testParams.Namespace, Image: testParams.Image, OpenShift: true, Monitoring: true}, nil},
		{"secureon", defaulted("office", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.SecureOn = &wolv1beta1.SecureOnSpec{PasswordKey: "office"}
			wc.Spec.NamespaceSelectors = []string{"lab", "prod"}
			wc.Spec.AllowedSources = wolv1beta1.AllowedSourcesSpec{CIDRs: []wolv1beta1.SourceCIDR{"192.0.2.0/24"}}
		}), testParams, []string{"prod", "lab"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			for _, obj := range desiredObjects(tc.wc, tc.p, true, SecureOnNamespaces(tc.wc, tc.p, tc.vmNS)) {
				data, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				out.WriteString("---\n")
				out.Write(data)
			}
			file := filepath.Join("testdata", tc.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/controller -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(want, out.Bytes()) {
				t.Errorf("desired objects differ from %s; review and rerun with -update if intended:\n%s", file, out.String())
			}
		})
	}
}

func TestDeploymentSecurityContext(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(*wolv1beta1.WolConfig)
		wantRoot bool
		wantCaps []corev1.Capability
	}{
		{"port 9 needs NET_BIND_SERVICE as root", nil, true, []corev1.Capability{"NET_BIND_SERVICE"}},
		{"high ports run as non-root without capabilities", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{40009}
		}, false, nil},
		{"raw mode needs NET_RAW", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{40009}
			wc.Spec.RawEthernet.Enabled = true
		}, true, []corev1.Capability{"NET_RAW"}},
		{"low metrics port needs NET_BIND_SERVICE", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{40009}
			wc.Spec.Listener.MetricsPort = ptr.To[int32](943)
		}, true, []corev1.Capability{"NET_BIND_SERVICE"}},
		{"both", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.RawEthernet.Enabled = true
		}, true, []corev1.Capability{"NET_BIND_SERVICE", "NET_RAW"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wc := defaulted("wc")
			if tc.mutate != nil {
				tc.mutate(wc)
			}
			d := BuildDeployment(wc, testParams)
			c := d.Spec.Template.Spec.Containers[0]
			sc := c.SecurityContext
			if got := *sc.RunAsUser == 0; got != tc.wantRoot {
				t.Errorf("runs as root = %v, want %v", got, tc.wantRoot)
			}
			if *sc.RunAsNonRoot == tc.wantRoot {
				t.Errorf("runAsNonRoot = %v with root = %v", *sc.RunAsNonRoot, tc.wantRoot)
			}
			if !slices.Equal(sc.Capabilities.Add, tc.wantCaps) {
				t.Errorf("capabilities added = %v, want %v", sc.Capabilities.Add, tc.wantCaps)
			}
			if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("capabilities dropped = %v, want [ALL]", sc.Capabilities.Drop)
			}
			if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || *sc.Privileged {
				t.Errorf("security context too permissive: %+v", sc)
			}
			if sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccomp = %v", sc.SeccompProfile.Type)
			}
			scc := BuildSCC(wc, testParams)
			if !slices.Equal(scc.AllowedCapabilities, tc.wantCaps) {
				t.Errorf("SCC allows %v, want %v", scc.AllowedCapabilities, tc.wantCaps)
			}
			for _, c := range tc.wantCaps {
				if slices.Contains(scc.RequiredDropCapabilities, c) {
					t.Errorf("SCC requires dropping %s, which the listener needs", c)
				}
			}
			if (*scc.RunAsUser.UID == 0) != tc.wantRoot {
				t.Errorf("SCC runAsUser %d with root = %v", *scc.RunAsUser.UID, tc.wantRoot)
			}
		})
	}
}

func TestDeploymentPorts(t *testing.T) {
	wc := defaulted("wc", func(wc *wolv1beta1.WolConfig) { wc.Spec.WolPorts = []int32{7, 9, 4000} })
	d := BuildDeployment(wc, testParams)
	spec := d.Spec.Template.Spec
	if !spec.HostNetwork || spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Fatalf("hostNetwork=%v dnsPolicy=%v", spec.HostNetwork, spec.DNSPolicy)
	}
	var udp []int32
	for _, p := range spec.Containers[0].Ports {
		if p.HostPort != p.ContainerPort {
			t.Errorf("port %s: hostPort %d != containerPort %d", p.Name, p.HostPort, p.ContainerPort)
		}
		if p.Protocol == corev1.ProtocolUDP {
			udp = append(udp, p.ContainerPort)
		}
	}
	if !slices.Equal(udp, []int32{7, 9, 4000}) {
		t.Errorf("UDP ports %v, want every wolPort", udp)
	}
	if got := spec.Containers[0].Args; !slices.Contains(got, "--wolconfig=wc") || !slices.Contains(got, "--metrics-bind-address=:9847") {
		t.Errorf("args %v", got)
	}
	if d.Spec.Template.Annotations[RequiredSCCAnnotation] != "" {
		t.Error("required-scc annotation set without OpenShift")
	}
	if spec.Affinity.PodAntiAffinity == nil {
		t.Error("no default anti-affinity")
	}
}

func TestClusterRole(t *testing.T) {
	wc := defaulted("wc")
	plain := BuildClusterRole(wc, testParams)
	openshift := BuildClusterRole(wc, Params{Namespace: "ns", OpenShift: true})
	var sawWolConfigs bool
	for _, r := range plain.Rules {
		if slices.Contains(r.Resources, "securitycontextconstraints") {
			t.Errorf("SCC rule without OpenShift: %+v", r)
		}
		if slices.Contains(r.Resources, "wolconfigs") {
			sawWolConfigs = true
			if !slices.Equal(r.ResourceNames, []string{"wc"}) {
				t.Errorf("wolconfigs rule not narrowed to the WolConfig: %+v", r)
			}
		}
		for _, v := range r.Verbs {
			if v == "*" || v == "delete" || v == "create" && !slices.Contains(r.Resources, "events") &&
				!slices.Contains(r.Resources, "tokenreviews") && !slices.Contains(r.Resources, "subjectaccessreviews") {
				t.Errorf("listener rule too broad: %+v", r)
			}
		}
	}
	if !sawWolConfigs {
		t.Error("listener cannot read its WolConfig")
	}
	last := openshift.Rules[len(openshift.Rules)-1]
	if !slices.Equal(last.Verbs, []string{"use"}) || !slices.Equal(last.ResourceNames, []string{"kubevirt-wol-listener-wc"}) {
		t.Errorf("SCC rule %+v", last)
	}
}

func TestFindPortConflict(t *testing.T) {
	at := func(sec int64) metav1.Time { return metav1.Unix(sec, 0) }
	wc := func(name string, created int64, mutate func(*wolv1beta1.WolConfig)) wolv1beta1.WolConfig {
		w := defaulted(name)
		w.CreationTimestamp = at(created)
		if mutate != nil {
			mutate(w)
		}
		return *w
	}
	ports := func(p ...int32) func(*wolv1beta1.WolConfig) {
		return func(w *wolv1beta1.WolConfig) { w.Spec.WolPorts = p }
	}
	cases := []struct {
		name     string
		all      []wolv1beta1.WolConfig
		ask      string
		wantWith string
		wantPort int32
	}{
		{"alone", []wolv1beta1.WolConfig{wc("a", 1, nil)}, "a", "", 0},
		{"newer loses the UDP port", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, nil)}, "b", "a", 9},
		{"older keeps it", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, nil)}, "a", "", 0},
		{"same age: name decides", []wolv1beta1.WolConfig{wc("b", 1, nil), wc("a", 1, nil)}, "b", "a", 9},
		{"different UDP ports, same metrics port", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, ports(7))}, "b", "a", 9847},
		{"different ports", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, func(w *wolv1beta1.WolConfig) {
			w.Spec.WolPorts = []int32{7}
			w.Spec.Listener.MetricsPort = ptr.To[int32](9848)
		})}, "b", "", 0},
		{"disjoint node selectors", []wolv1beta1.WolConfig{
			wc("a", 1, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "one"} }),
			wc("b", 2, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "two"} }),
		}, "b", "", 0},
		{"overlapping node selectors", []wolv1beta1.WolConfig{
			wc("a", 1, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "one"} }),
			wc("b", 2, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"zone": "x"} }),
		}, "b", "a", 9},
		{"a loser does not block a third", []wolv1beta1.WolConfig{
			wc("a", 1, ports(9)),
			wc("b", 2, func(w *wolv1beta1.WolConfig) {
				w.Spec.WolPorts = []int32{9, 7}
				w.Spec.Listener.MetricsPort = ptr.To[int32](1)
			}),
			wc("c", 3, func(w *wolv1beta1.WolConfig) {
				w.Spec.WolPorts = []int32{7}
				w.Spec.Listener.MetricsPort = ptr.To[int32](2)
			}),
		}, "c", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var me *wolv1beta1.WolConfig
			for i := range tc.all {
				if tc.all[i].Name == tc.ask {
					me = &tc.all[i]
				}
			}
			c, ok := FindPortConflict(me, tc.all)
			if ok != (tc.wantWith != "") || c.With != tc.wantWith || c.Port != tc.wantPort {
				t.Errorf("got %+v, %v; want conflict with %q on %d", c, ok, tc.wantWith, tc.wantPort)
			}
		})
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
