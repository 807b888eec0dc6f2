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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

// kustomizeBuild renders a kustomization with bin/kustomize into objects of
// the given kinds, by kind.
func kustomizeBuild(t interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}, dir string) map[string][][]byte {
	t.Helper()
	bin := filepath.Join(testenv.BinDir(), "kustomize")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (run `make kustomize`): %v", bin, err)
	}
	out, err := exec.Command(bin, "build", filepath.Join(testenv.RepoRoot(), dir)).Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	byKind := map[string][][]byte{}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		byKind[meta.Kind] = append(byKind[meta.Kind], doc)
	}
	return byKind
}

// The listener's Pod Security exceptions, each documented in
// docs/SECURITY.md under its identifier, with the way the Pod Security
// admission plugin of kube-apiserver words the violation.
var listenerExceptions = []struct{ id, psa string }{
	{"hostNetwork", "host namespaces (hostNetwork=true)"},
	{"hostPorts:listener", `hostPort (container "listener" uses hostPort`},
	{"runAsNonRoot:listener", `runAsNonRoot != true (`},
	{"runAsUser:listener", `runAsUser=0 (`},
	{"capabilities.add:listener:NET_RAW", `unrestricted capabilities (container "listener" must not include "NET_RAW"`},
}

func TestPodSecurityExceptionsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "SECURITY.md"))
	if err != nil {
		t.Fatalf("reading docs/SECURITY.md: %v", err)
	}
	for _, e := range listenerExceptions {
		if !strings.Contains(string(doc), "`"+e.id+"`") {
			t.Errorf("the Pod Security exception %s is not documented in docs/SECURITY.md", e.id)
		}
	}
}

// psaViolations names, by their identifiers in listenerExceptions, the
// violations a Pod Security admission refusal lists; one it does not know
// is returned as the plugin worded it.
func psaViolations(err error) []string {
	const marker = `violates PodSecurity "restricted:latest": `
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return []string{msg}
	}
	var out []string
	depth, start := 0, i+len(marker)
	rest := msg[start:]
	for j := 0; j <= len(rest); j++ {
		if j < len(rest) {
			switch rest[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth != 0 || !strings.HasPrefix(rest[j:], ", ") {
				continue
			}
		}
		item := strings.TrimSpace(rest[:j])
		id := item
		for _, e := range listenerExceptions {
			if strings.HasPrefix(item, e.psa) {
				id = e.id
			}
		}
		out = append(out, id)
		if j == len(rest) {
			break
		}
		rest, j = rest[j+2:], -1
	}
	slices.Sort(out)
	return out
}

// Pod Security is judged by kube-apiserver's own admission plugin: the pods
// the operator's Deployment and the listener's Deployment would create are
// submitted (dry run) in namespaces labelled enforce: restricted and
// enforce: privileged.
var _ = Describe("Pod Security admission", Ordered, func() {
	const restricted, privileged = "psa-restricted", "psa-privileged"

	BeforeAll(func(ctx SpecContext) {
		for ns, level := range map[string]string{restricted: "restricted", privileged: "privileged"} {
			Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
				"pod-security.kubernetes.io/enforce":         level,
				"pod-security.kubernetes.io/enforce-version": "latest",
			}}})).To(Succeed())
		}
	})

	// submit creates, as a dry run, a pod of template in namespace ns (with
	// the ServiceAccount it names, as the ServiceAccount admission plugin
	// requires).
	submit := func(ctx context.Context, ns string, template corev1.PodTemplateSpec) error {
		GinkgoHelper()
		if sa := template.Spec.ServiceAccountName; sa != "" {
			err := admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}})
			if !apierrors.IsAlreadyExists(err) {
				Expect(err).NotTo(HaveOccurred())
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "psa-check", Namespace: ns, Labels: template.Labels},
			Spec:       template.Spec,
		}
		return admin.Create(ctx, pod, client.DryRunAll)
	}

	It("admits the operator (kustomize build config/default) as restricted", func(ctx SpecContext) {
		objs := kustomizeBuild(GinkgoT(), "config/default")
		Expect(objs["Deployment"]).To(HaveLen(1))
		d := &appsv1.Deployment{}
		Expect(yaml.UnmarshalStrict(objs["Deployment"][0], d)).To(Succeed())
		Expect(submit(ctx, restricted, d.Spec.Template)).To(Succeed())
	})

	DescribeTable("refuses the listener as restricted for exactly its documented exceptions, admits it as privileged",
		func(ctx SpecContext, mutate func(*wolv1beta1.WolConfig), want []string) {
			wc := defaulted("wc")
			if mutate != nil {
				mutate(wc)
			}
			for _, p := range []Params{testParams, {Namespace: "ns", Image: testParams.Image, OpenShift: true}} {
				d := BuildDeployment(wc, p)
				err := submit(ctx, restricted, d.Spec.Template)
				Expect(apierrors.IsForbidden(err)).To(BeTrue(), "OpenShift=%v: %v", p.OpenShift, err)
				Expect(psaViolations(err)).To(Equal(want), "OpenShift=%v: %v", p.OpenShift, err)
				Expect(submit(ctx, privileged, d.Spec.Template)).To(Succeed(), "OpenShift=%v", p.OpenShift)
			}

			scc := BuildSCC(wc, testParams)
			Expect(scc.AllowPrivilegedContainer || scc.AllowHostPID || scc.AllowHostIPC || scc.AllowHostDirVolumePlugin ||
				ptr.Deref(scc.AllowPrivilegeEscalation, true) || len(scc.Users) > 0 || len(scc.Groups) > 0 ||
				slices.Contains(scc.Volumes, "hostPath") || slices.Contains(scc.Volumes, "*")).
				To(BeFalse(), "SCC broader than the exceptions: %+v", scc)
			Expect(scc.Name).NotTo(Equal("privileged"), "the listener must not use the privileged SCC")
		},
		Entry("port 9 (the default)", nil,
			[]string{"hostNetwork", "hostPorts:listener", "runAsNonRoot:listener", "runAsUser:listener"}),
		Entry("ports above 1024", func(wc *wolv1beta1.WolConfig) { wc.Spec.WolPorts = []int32{40009} },
			[]string{"hostNetwork", "hostPorts:listener"}),
		Entry("raw mode", func(wc *wolv1beta1.WolConfig) { wc.Spec.RawEthernet.Enabled = true },
			[]string{"capabilities.add:listener:NET_RAW", "hostNetwork", "hostPorts:listener", "runAsNonRoot:listener", "runAsUser:listener"}),
	)
})

// The operator ships a NetworkPolicy that lets only namespaces labelled
// metrics: enabled reach its metrics port, and it selects the operator's
// pods and the port the metrics endpoint really listens on. (The listeners
// use the host network, where NetworkPolicies do not apply: their metrics
// are protected by TokenReview and SubjectAccessReview instead.)
func TestOperatorMetricsNetworkPolicy(t *testing.T) {
	objs := kustomizeBuild(t, "config/default")
	if len(objs["NetworkPolicy"]) != 1 {
		t.Fatalf("%d NetworkPolicies in config/default, want 1", len(objs["NetworkPolicy"]))
	}
	np := &networkingv1.NetworkPolicy{}
	d := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict(objs["NetworkPolicy"][0], np); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(objs["Deployment"][0], d); err != nil {
		t.Fatal(err)
	}
	var svc *corev1.Service
	for _, doc := range objs["Service"] {
		s := &corev1.Service{}
		if err := yaml.UnmarshalStrict(doc, s); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.Name, "metrics") {
			svc = s
		}
	}
	if svc == nil {
		t.Fatal("no metrics Service")
	}
	if np.Namespace != d.Namespace {
		t.Errorf("NetworkPolicy in %q, operator in %q", np.Namespace, d.Namespace)
	}
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the NetworkPolicy selects %s=%s, which the operator's pods do not carry", k, v)
		}
	}
	if len(np.Spec.PodSelector.MatchLabels) == 0 {
		t.Error("the NetworkPolicy selects every pod of the namespace (the listeners too)")
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Ingress) != 1 {
		t.Fatalf("policy %+v", np.Spec)
	}
	rule := np.Spec.Ingress[0]
	if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || len(rule.From[0].NamespaceSelector.MatchLabels) == 0 {
		t.Errorf("ingress open to every namespace: %+v", rule.From)
	}
	if len(rule.Ports) != 1 || rule.Ports[0].Port == nil {
		t.Fatalf("ports %+v", rule.Ports)
	}
	port := rule.Ports[0].Port.IntValue()
	args := d.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, fmt.Sprintf("--metrics-bind-address=:%d", port)) {
		t.Errorf("the NetworkPolicy opens port %d, the manager's args are %v", port, args)
	}
	if svc.Spec.Ports[0].TargetPort != intstr.FromInt32(int32(port)) {
		t.Errorf("the metrics Service targets %v, the NetworkPolicy opens %d", svc.Spec.Ports[0].TargetPort, port)
	}
	if !slices.Contains(args, "--leader-elect") {
		t.Error("the operator runs without leader election")
	}
}
