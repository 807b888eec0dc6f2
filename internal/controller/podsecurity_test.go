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
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

// restrictedViolations evaluates a pod spec against the Pod Security
// Standards "restricted" profile (which includes "baseline"), control by
// control as https://kubernetes.io/docs/concepts/security/pod-security-standards/
// lists them for the latest version, and returns one stable identifier per
// violation: "control" or "control:container". (k8s.io/pod-security-admission,
// which implements the same checks, is not in this module's graph.)
func restrictedViolations(spec *corev1.PodSpec) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}

	// Baseline.
	if spec.HostNetwork {
		add("hostNetwork")
	}
	if spec.HostPID {
		add("hostPID")
	}
	if spec.HostIPC {
		add("hostIPC")
	}
	if psc.WindowsOptions != nil && ptr.Deref(psc.WindowsOptions.HostProcess, false) {
		add("hostProcess")
	}
	for _, v := range spec.Volumes {
		switch {
		case v.HostPath != nil:
			add("hostPathVolumes:%s", v.Name)
		case v.ConfigMap != nil, v.CSI != nil, v.DownwardAPI != nil, v.EmptyDir != nil, v.Ephemeral != nil,
			v.PersistentVolumeClaim != nil, v.Projected != nil, v.Secret != nil:
		default:
			add("restrictedVolumes:%s", v.Name) // restricted: only these types
		}
	}
	for _, s := range psc.Sysctls {
		if !slices.Contains([]string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
			"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
			"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}, s.Name) {
			add("sysctls:%s", s.Name)
		}
	}
	seLinuxOK := func(o *corev1.SELinuxOptions) bool {
		return o == nil || (o.User == "" && o.Role == "" &&
			slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, o.Type))
	}
	if !seLinuxOK(psc.SELinuxOptions) {
		add("seLinux")
	}
	if p := psc.AppArmorProfile; p != nil && p.Type == corev1.AppArmorProfileTypeUnconfined {
		add("appArmorProfile")
	}
	podSeccomp := psc.SeccompProfile
	podNonRoot := ptr.Deref(psc.RunAsNonRoot, false)
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		add("runAsUser")
	}

	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if ptr.Deref(sc.Privileged, false) {
			add("privileged:%s", c.Name)
		}
		if sc.WindowsOptions != nil && ptr.Deref(sc.WindowsOptions.HostProcess, false) {
			add("hostProcess:%s", c.Name)
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				add("hostPorts:%s", c.Name)
				break
			}
		}
		if !seLinuxOK(sc.SELinuxOptions) {
			add("seLinux:%s", c.Name)
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			add("procMount:%s", c.Name)
		}
		if p := sc.AppArmorProfile; p != nil && p.Type == corev1.AppArmorProfileTypeUnconfined {
			add("appArmorProfile:%s", c.Name)
		}
		// Restricted.
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add("allowPrivilegeEscalation:%s", c.Name)
		}
		nonRoot := podNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if !nonRoot {
			add("runAsNonRoot:%s", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			add("runAsUser:%s", c.Name)
		}
		seccomp := podSeccomp
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			add("seccompProfile:%s", c.Name)
		}
		caps := sc.Capabilities
		if caps == nil || !slices.Contains(caps.Drop, "ALL") {
			add("capabilities.drop:%s", c.Name)
		}
		if caps != nil {
			for _, a := range caps.Add {
				if a != "NET_BIND_SERVICE" {
					add("capabilities.add:%s:%s", c.Name, a)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// kustomizeBuild renders a kustomization with bin/kustomize into objects of
// the given kinds, by kind.
func kustomizeBuild(t *testing.T, dir string) map[string][][]byte {
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

// The pod-security exceptions of the listener, each documented in
// docs/SECURITY.md under the same identifier.
var listenerExceptions = map[string]string{
	"hostNetwork":                       "hear broadcast magic packets on the node's LAN",
	"hostPorts:listener":                "the WoL ports and the metrics port are the node's",
	"runAsNonRoot:listener":             "ports below 1024 or raw mode: capabilities only work for root",
	"runAsUser:listener":                "the same: UID 0, every capability but the needed ones dropped",
	"capabilities.add:listener:NET_RAW": "raw Ethernet (etherwake) frames",
}

func TestPodSecurityRestricted(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "SECURITY.md"))
	if err != nil {
		t.Fatalf("reading docs/SECURITY.md: %v", err)
	}
	for id := range listenerExceptions {
		if !strings.Contains(string(doc), "`"+id+"`") {
			t.Errorf("the Pod Security exception %s is not documented in docs/SECURITY.md", id)
		}
	}

	t.Run("operator (kustomize build config/default)", func(t *testing.T) {
		objs := kustomizeBuild(t, "config/default")
		if len(objs["Deployment"]) != 1 {
			t.Fatalf("%d Deployments, want the operator's", len(objs["Deployment"]))
		}
		d := &appsv1.Deployment{}
		if err := yaml.UnmarshalStrict(objs["Deployment"][0], d); err != nil {
			t.Fatal(err)
		}
		if v := restrictedViolations(&d.Spec.Template.Spec); len(v) != 0 {
			t.Errorf("the operator violates the restricted profile: %v", v)
		}
	})

	cases := []struct {
		name   string
		mutate func(*wolv1beta1.WolConfig)
		want   []string
	}{
		{"listener, port 9 (the default)", nil,
			[]string{"hostNetwork", "hostPorts:listener", "runAsNonRoot:listener", "runAsUser:listener"}},
		{"listener, ports above 1024", func(wc *wolv1beta1.WolConfig) { wc.Spec.WolPorts = []int32{40009} },
			[]string{"hostNetwork", "hostPorts:listener"}},
		{"listener, raw mode", func(wc *wolv1beta1.WolConfig) { wc.Spec.RawEthernet.Enabled = true },
			[]string{"capabilities.add:listener:NET_RAW", "hostNetwork", "hostPorts:listener", "runAsNonRoot:listener", "runAsUser:listener"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wc := defaulted("wc")
			if tc.mutate != nil {
				tc.mutate(wc)
			}
			for _, p := range []Params{testParams, {Namespace: "ns", OpenShift: true}} {
				got := restrictedViolations(&BuildDeployment(wc, p).Spec.Template.Spec)
				if !slices.Equal(got, tc.want) {
					t.Errorf("OpenShift=%v: violations %v, want exactly %v", p.OpenShift, got, tc.want)
				}
				for _, v := range got {
					if _, ok := listenerExceptions[v]; !ok {
						t.Errorf("undocumented exception %s", v)
					}
				}
			}
			scc := BuildSCC(wc, testParams)
			if scc.AllowPrivilegedContainer || scc.AllowHostPID || scc.AllowHostIPC || scc.AllowHostDirVolumePlugin ||
				ptr.Deref(scc.AllowPrivilegeEscalation, true) || len(scc.Users) > 0 || len(scc.Groups) > 0 ||
				slices.Contains(scc.Volumes, "hostPath") || slices.Contains(scc.Volumes, "*") {
				t.Errorf("SCC broader than the exceptions: %+v", scc)
			}
			if scc.Name == "privileged" {
				t.Error("the listener must not use the privileged SCC")
			}
		})
	}

	// The checker itself catches what it claims to.
	bad := &corev1.PodSpec{HostPID: true, Volumes: []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{}}}},
		Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}}}}
	want := []string{"allowPrivilegeEscalation:c", "capabilities.add:c:SYS_ADMIN", "capabilities.drop:c", "hostPID",
		"hostPathVolumes:h", "privileged:c", "runAsNonRoot:c", "seccompProfile:c"}
	if got := restrictedViolations(bad); !slices.Equal(got, want) {
		t.Errorf("checker: %v, want %v", got, want)
	}
}

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
