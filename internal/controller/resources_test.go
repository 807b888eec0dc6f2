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
			Namespace: testParams.Namespace, Image: testParams.Image, OpenShift: true, Monitoring: true, PrometheusRules: true}, nil},
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

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
