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
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

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
