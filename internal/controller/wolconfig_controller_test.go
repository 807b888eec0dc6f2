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
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

const (
	timeout = 20 * time.Second
	poll    = 50 * time.Millisecond
)

func key(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: operatorNamespace, Name: name}
}

// updateWolConfig changes a WolConfig, retrying when the operator's status
// writes got there first.
func updateWolConfig(ctx context.Context, name string, mutate func(*wolv1beta1.WolConfig)) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		wc := &wolv1beta1.WolConfig{}
		if err := admin.Get(ctx, client.ObjectKey{Name: name}, wc); err != nil {
			return err
		}
		mutate(wc)
		return admin.Update(ctx, wc)
	})).To(Succeed())
}

func newWolConfig(name string, mutate func(*wolv1beta1.WolConfig)) *wolv1beta1.WolConfig {
	wc := &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if mutate != nil {
		mutate(wc)
	}
	return wc
}

func getWolConfig(ctx context.Context, name string) *wolv1beta1.WolConfig {
	wc := &wolv1beta1.WolConfig{}
	ExpectWithOffset(1, admin.Get(ctx, client.ObjectKey{Name: name}, wc)).To(Succeed())
	return wc
}

func condition(ctx context.Context, name, t string) func() *metav1.Condition {
	return func() *metav1.Condition {
		return meta.FindStatusCondition(getWolConfig(ctx, name).Status.Conditions, t)
	}
}

// haveCondition matches a *metav1.Condition by status and reason.
func haveCondition(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

func vm(ns, name string, labels map[string]string, macs ...string) *kubevirtv1.VirtualMachine {
	return vmfixture.New(ns, name, vmfixture.Labels(labels), vmfixture.MACs(macs...))
}

func ensureNamespace(ctx context.Context, name string) {
	err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if !apierrors.IsAlreadyExists(err) {
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
}

// markReady sets the Deployment's status as the deployment controller and
// kubelets would once the pods are ready (envtest runs neither).
func markReady(ctx context.Context, name string, ready int32) {
	d := &appsv1.Deployment{}
	ExpectWithOffset(1, admin.Get(ctx, key(name), d)).To(Succeed())
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas, UpdatedReplicas: *d.Spec.Replicas,
		ReadyReplicas: ready, AvailableReplicas: ready,
	}
	ExpectWithOffset(1, admin.Status().Update(ctx, d)).To(Succeed())
}

var _ = Describe("WolConfig reconciliation", Ordered, func() {
	ctx := context.Background()

	It("creates the listener's objects, owned by the WolConfig", func() {
		Expect(admin.Create(ctx, newWolConfig("first", nil))).To(Succeed())
		wc := getWolConfig(ctx, "first")

		d := &appsv1.Deployment{}
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-first"), d) }, timeout, poll).Should(Succeed())
		pod := d.Spec.Template.Spec
		Expect(pod.HostNetwork).To(BeTrue())
		Expect(pod.ServiceAccountName).To(Equal("wol-listener-first"))
		Expect(pod.Containers[0].Image).To(Equal("quay.io/kubevirt-wol/kubevirt-wol:test"))
		Expect(pod.Containers[0].Ports).To(ContainElement(And(
			HaveField("ContainerPort", int32(9)), HaveField("HostPort", int32(9)), HaveField("Protocol", corev1.ProtocolUDP))))

		owned := []client.Object{
			d, &corev1.ServiceAccount{}, &corev1.Service{}, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{},
		}
		keys := []client.ObjectKey{
			key("wol-listener-first"), key("wol-listener-first"), key("wol-listener-first"),
			{Name: "kubevirt-wol-listener-first"}, {Name: "kubevirt-wol-listener-first"},
		}
		for i, obj := range owned {
			Eventually(func() error { return admin.Get(ctx, keys[i], obj) }, timeout, poll).Should(Succeed())
			Expect(metav1.GetControllerOf(obj)).To(And(Not(BeNil()),
				HaveField("UID", wc.UID), HaveField("Kind", "WolConfig")), "owner of %T", obj)
			Expect(obj.GetLabels()).To(HaveKeyWithValue(LabelManagedBy, ManagedBy))
		}

		By("creating no SCC or ServiceMonitor while their APIs are not served")
		Consistently(func() bool {
			return meta.IsNoMatchError(admin.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-first"}, &securityv1.SecurityContextConstraints{}))
		}, time.Second, poll).Should(BeTrue())
	})

	It("reports the listener not ready, then ready, with an event on the transition", func() {
		Eventually(condition(ctx, "first", wolv1beta1.ConditionReady), timeout, poll).Should(haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonListenerNotReady))
		wc := getWolConfig(ctx, "first")
		Expect(wc.Status.ObservedGeneration).To(Equal(wc.Generation))

		markReady(ctx, "wol-listener-first", 1)
		Eventually(condition(ctx, "first", wolv1beta1.ConditionReady), timeout, poll).Should(haveCondition(metav1.ConditionTrue, wolv1beta1.ReasonListenerReady))
		Expect(getWolConfig(ctx, "first").Status.Listener).To(Equal(wolv1beta1.ListenerStatus{Replicas: 1, ReadyReplicas: 1}))
		Eventually(func() []string {
			list := &eventsv1.EventList{}
			Expect(admin.List(ctx, list)).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Name == "first" && e.Regarding.Kind == "WolConfig" {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}, timeout, poll).Should(ContainElement(EventListenerReady))
	})

	It("updates the Deployment when ports or placement change", func() {
		updateWolConfig(ctx, "first", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{7, 9}
			wc.Spec.Listener.NodeSelector = map[string]string{"lan": "office"}
		})
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(admin.Get(ctx, key("wol-listener-first"), d)).To(Succeed())
			g.Expect(d.Spec.Template.Spec.NodeSelector).To(HaveKeyWithValue("lan", "office"))
			g.Expect(d.Spec.Template.Spec.Containers[0].Ports).To(ContainElement(HaveField("ContainerPort", int32(7))))
		}, timeout, poll).Should(Succeed())
	})

	It("restores an owned object that was deleted or edited", func() {
		Expect(admin.Delete(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kubevirt-wol-listener-first"}})).To(Succeed())
		Eventually(func() error {
			return admin.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-first"}, &rbacv1.ClusterRole{})
		}, timeout, poll).Should(Succeed())

		d := &appsv1.Deployment{}
		Expect(admin.Get(ctx, key("wol-listener-first"), d)).To(Succeed())
		d.Spec.Template.Spec.HostNetwork = false
		d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
		Expect(admin.Update(ctx, d)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(admin.Get(ctx, key("wol-listener-first"), d)).To(Succeed())
			g.Expect(d.Spec.Template.Spec.HostNetwork).To(BeTrue())
			g.Expect(*d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		}, timeout, poll).Should(Succeed())

		svc := &corev1.Service{}
		Expect(admin.Get(ctx, key("wol-listener-first"), svc)).To(Succeed())
		delete(svc.Labels, LabelManagedBy)
		Expect(admin.Update(ctx, svc)).To(Succeed())
		Eventually(func() map[string]string {
			Expect(admin.Get(ctx, key("wol-listener-first"), svc)).To(Succeed())
			return svc.Labels
		}, timeout, poll).Should(HaveKeyWithValue(LabelManagedBy, ManagedBy))
	})

	It("gives a newer WolConfig that needs the same port no Deployment, and a PortConflict", func() {
		Expect(admin.Create(ctx, newWolConfig("second", nil))).To(Succeed())
		Eventually(condition(ctx, "second", wolv1beta1.ConditionReady), timeout, poll).Should(And(
			haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonPortConflict),
			HaveField("Message", ContainSubstring(`WolConfig "first"`))))
		Expect(condition(ctx, "second", wolv1beta1.ConditionDegraded)()).To(haveCondition(metav1.ConditionTrue, wolv1beta1.ReasonPortConflict))
		Consistently(func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, key("wol-listener-second"), &appsv1.Deployment{}))
		}, time.Second, poll).Should(BeTrue())

		By("moving it to other ports, which ends the conflict")
		updateWolConfig(ctx, "second", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{40009}
			wc.Spec.Listener.MetricsPort = ptr.To[int32](19847)
		})
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-second"), &appsv1.Deployment{}) }, timeout, poll).Should(Succeed())
		Eventually(condition(ctx, "second", wolv1beta1.ConditionReady), timeout, poll).Should(haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonListenerNotReady))

		By("taking the older one's port back, which removes its Deployment again")
		updateWolConfig(ctx, "second", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{7}
		})
		Eventually(func() bool {
			return apierrors.IsNotFound(admin.Get(ctx, key("wol-listener-second"), &appsv1.Deployment{}))
		}, timeout, poll).Should(BeTrue())
		Eventually(condition(ctx, "second", wolv1beta1.ConditionReady), timeout, poll).Should(haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonPortConflict))

		By("deleting the older one, which frees the port")
		Expect(admin.Delete(ctx, getWolConfig(ctx, "first"))).To(Succeed())
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-second"), &appsv1.Deployment{}) }, timeout, poll).Should(Succeed())
		Expect(admin.Delete(ctx, getWolConfig(ctx, "second"))).To(Succeed())
	})

	It("counts the VMs in scope and reports MAC conflicts, VMs without a fixed MAC and missing mappings", func() {
		ensureNamespace(ctx, "lab")
		ensureNamespace(ctx, "prod")
		Expect(admin.Create(ctx, newWolConfig("scoped", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.NamespaceSelectors = []string{"lab"}
			wc.Spec.WolPorts = []int32{40010}
		}))).To(Succeed())
		for _, v := range []*kubevirtv1.VirtualMachine{
			vm("lab", "a", nil, "52:54:00:00:00:01"),
			vm("lab", "b", nil, "52:54:00:00:00:02"),
			vm("lab", "nomac", nil, ""),
			vm("prod", "elsewhere", nil, "52:54:00:00:00:03"),
		} {
			Expect(admin.Create(ctx, v)).To(Succeed())
		}
		Eventually(func() wolv1beta1.WolConfigStatus { return getWolConfig(ctx, "scoped").Status }, timeout, poll).Should(And(
			HaveField("ManagedVMs", int32(2)),
			HaveField("NotWakeableCount", int32(1)),
			HaveField("NotWakeableVMs", []string{"lab/nomac"}),
			HaveField("MACConflictCount", int32(0)),
		))
		Expect(condition(ctx, "scoped", wolv1beta1.ConditionDegraded)()).To(haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonAsExpected))

		By("a second VM with the same MAC: a conflict, neither counted")
		Expect(admin.Create(ctx, vm("lab", "twin", nil, "52-54-00-00-00-01"))).To(Succeed())
		Eventually(func() wolv1beta1.WolConfigStatus { return getWolConfig(ctx, "scoped").Status }, timeout, poll).Should(And(
			HaveField("ManagedVMs", int32(1)),
			HaveField("MACConflictCount", int32(1)),
			HaveField("MACConflicts", []wolv1beta1.MACConflict{{MACAddress: "52:54:00:00:00:01", VMs: []string{"lab/a", "lab/twin"}}}),
		))
		Expect(condition(ctx, "scoped", wolv1beta1.ConditionDegraded)()).To(And(
			haveCondition(metav1.ConditionTrue, wolv1beta1.ReasonMACConflict), HaveField("Message", ContainSubstring("lab/twin"))))

		By("the conflict clearing when the twin goes")
		Expect(admin.Delete(ctx, &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: "lab", Name: "twin"}})).To(Succeed())
		Eventually(func() int32 { return getWolConfig(ctx, "scoped").Status.MACConflictCount }, timeout, poll).Should(BeZero())
		Eventually(condition(ctx, "scoped", wolv1beta1.ConditionDegraded), timeout, poll).Should(haveCondition(metav1.ConditionFalse, wolv1beta1.ReasonAsExpected))

		By("switching to Explicit with a mapping to a VM that does not exist")
		updateWolConfig(ctx, "scoped", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.DiscoveryMode = wolv1beta1.DiscoveryModeExplicit
			wc.Spec.NamespaceSelectors = nil
			wc.Spec.ExplicitMappings = []wolv1beta1.ExplicitMapping{
				{MACAddress: "52:54:00:00:00:03", VMName: "elsewhere", Namespace: "prod"},
				{MACAddress: "52:54:00:00:00:09", VMName: "ghost", Namespace: "prod"},
			}
		})
		Eventually(func() wolv1beta1.WolConfigStatus { return getWolConfig(ctx, "scoped").Status }, timeout, poll).Should(And(
			HaveField("ManagedVMs", int32(1)),
			HaveField("MissingMappingCount", int32(1)),
			HaveField("MissingMappings", []wolv1beta1.ExplicitMapping{{MACAddress: "52:54:00:00:00:09", VMName: "ghost", Namespace: "prod"}}),
		))
		Expect(condition(ctx, "scoped", wolv1beta1.ConditionDegraded)()).To(haveCondition(metav1.ConditionTrue, wolv1beta1.ReasonMissingVM))
	})

	It("makes no API write while VMs change in ways that change no result", func() {
		updateWolConfig(ctx, "scoped", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.DiscoveryMode = wolv1beta1.DiscoveryModeLabelSelector
			wc.Spec.ExplicitMappings = nil
			wc.Spec.NamespaceSelectors = []string{"lab"}
			wc.Spec.VMSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"wake": "yes"}}
		})
		churn := make([]*kubevirtv1.VirtualMachine, 20)
		for i := range churn {
			churn[i] = vm("lab", fmt.Sprintf("churn-%d", i), map[string]string{"wake": "yes"}, fmt.Sprintf("52:54:00:00:01:%02x", i))
			Expect(admin.Create(ctx, churn[i])).To(Succeed())
		}
		Eventually(func() int32 { return getWolConfig(ctx, "scoped").Status.ManagedVMs }, timeout, poll).Should(Equal(int32(20)))

		By("waiting until the operator is idle")
		operatorWrites := func() int { return writes.Count(apirecorder.Call.Write) }
		last := -1
		Eventually(func() bool {
			now := operatorWrites()
			idle := now == last
			last = now
			return idle
		}, timeout, time.Second).Should(BeTrue())

		before := operatorWrites()
		for round := range 5 {
			for i, v := range churn {
				Expect(admin.Get(ctx, client.ObjectKeyFromObject(v), v)).To(Succeed())
				v.Labels["unrelated"] = fmt.Sprint(round)
				if v.Annotations == nil {
					v.Annotations = map[string]string{}
				}
				v.Annotations["touched"] = fmt.Sprint(round)
				v.Spec.Template.Spec.Domain.CPU = &kubevirtv1.CPU{Cores: uint32(1 + round)}
				Expect(admin.Update(ctx, v)).To(Succeed())
				v.Status.PrintableStatus = kubevirtv1.VirtualMachinePrintableStatus(fmt.Sprintf("Round%d-%d", round, i))
				Expect(admin.Status().Update(ctx, v)).To(Succeed())
			}
		}
		Consistently(func() int { return operatorWrites() - before }, 3*time.Second, 100*time.Millisecond).Should(BeZero(),
			func() string {
				var all []apirecorder.Call
				for _, c := range writes.Calls() {
					if c.Write() {
						all = append(all, c)
					}
				}
				return "operator writes while nothing visible changed: " + apirecorder.Summary(all[before:])
			})
		AddReportEntry("operator API writes during 200 VM updates that change no result", operatorWrites()-before)

		By("and writing the status once a change is visible")
		v := churn[0]
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(v), v)).To(Succeed())
		v.Labels["wake"] = "no"
		Expect(admin.Update(ctx, v)).To(Succeed())
		Eventually(func() int32 { return getWolConfig(ctx, "scoped").Status.ManagedVMs }, timeout, poll).Should(Equal(int32(19)))
	})

	It("creates the SCC, the ServiceMonitor and the PrometheusRule once their APIs appear", func() {
		wc := getWolConfig(ctx, "scoped")
		paths, err := testenv.CRDPaths(testenv.Options{OpenShift: true, Monitoring: true, WithoutKubeVirt: true})
		Expect(err).NotTo(HaveOccurred())
		_, err = envtest.InstallCRDs(adminCfg, envtest.CRDInstallOptions{Paths: paths[1:]})
		Expect(err).NotTo(HaveOccurred())

		scc := &securityv1.SecurityContextConstraints{}
		Eventually(func() error {
			return admin.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-scoped"}, scc)
		}, timeout, poll).Should(Succeed())
		Expect(metav1.GetControllerOf(scc)).To(HaveField("UID", wc.UID))
		Expect(scc.AllowHostNetwork).To(BeTrue())
		Expect(scc.AllowPrivilegedContainer).To(BeFalse())
		Expect(scc.Users).To(BeEmpty())
		Expect(scc.AllowHostDirVolumePlugin || scc.AllowHostPID || scc.AllowHostIPC).To(BeFalse())

		sm := &monitoringv1.ServiceMonitor{}
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-scoped"), sm) }, timeout, poll).Should(Succeed())
		Expect(sm.Spec.Endpoints[0].Port).To(Equal(MetricsPortName))

		By("creating the listener alerts for this WolConfig's series")
		rule := &monitoringv1.PrometheusRule{}
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-scoped"), rule) }, timeout, poll).Should(Succeed())
		Expect(metav1.GetControllerOf(rule)).To(HaveField("UID", wc.UID))
		Expect(rule.Spec.Groups).To(HaveLen(1))
		Expect(rule.Spec.Groups[0].Rules).To(HaveLen(len(ListenerAlerts)))
		Expect(rule.Spec.Groups[0].Rules[0].Expr.String()).To(ContainSubstring(
			`job="wol-listener-scoped", namespace="` + operatorNamespace + `"`))
		By("restoring deleted listener alerts")
		Expect(admin.Delete(ctx, rule)).To(Succeed())
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-scoped"), &monitoringv1.PrometheusRule{}) },
			timeout, poll).Should(Succeed())

		By("granting the SCC to the listener and pinning its pods to it")
		Eventually(func(g Gomega) {
			cr := &rbacv1.ClusterRole{}
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-scoped"}, cr)).To(Succeed())
			g.Expect(cr.Rules).To(ContainElement(And(
				HaveField("Verbs", []string{"use"}), HaveField("ResourceNames", []string{"kubevirt-wol-listener-scoped"}))))
			d := &appsv1.Deployment{}
			g.Expect(admin.Get(ctx, key("wol-listener-scoped"), d)).To(Succeed())
			g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(RequiredSCCAnnotation, "kubevirt-wol-listener-scoped"))
		}, timeout, poll).Should(Succeed())

		By("restoring a deleted SCC")
		Expect(admin.Delete(ctx, scc)).To(Succeed())
		Eventually(func() error {
			return admin.Get(ctx, client.ObjectKey{Name: "kubevirt-wol-listener-scoped"}, &securityv1.SecurityContextConstraints{})
		}, timeout, poll).Should(Succeed())
	})

	It("deletes its listener alerts, and creates none, when run with DisablePrometheusRules", func() {
		// Another owner (the Helm chart's prometheusRule.enabled) installs the
		// alerts: the operator's own copy must go, or every alert fires twice.
		Expect(admin.Get(ctx, key("wol-listener-scoped"), &monitoringv1.PrometheusRule{})).To(Succeed())
		stopMgr()
		DeferCleanup(func() { _, stopMgr = startOperator(OperatorOptions{}, writes.Wrap) })
		_, stop := startOperator(OperatorOptions{DisablePrometheusRules: true}, nil)
		DeferCleanup(stop)

		gone := func(name string) func() bool {
			return func() bool {
				return apierrors.IsNotFound(admin.Get(ctx, key(name), &monitoringv1.PrometheusRule{}))
			}
		}
		Eventually(gone("wol-listener-scoped"), timeout, poll).Should(BeTrue())
		By("keeping the ServiceMonitor")
		Expect(admin.Get(ctx, key("wol-listener-scoped"), &monitoringv1.ServiceMonitor{})).To(Succeed())

		By("leaving alone a PrometheusRule it does not own, even with the name it would give its own")
		foreign := &monitoringv1.PrometheusRule{
			ObjectMeta: metav1.ObjectMeta{Name: "wol-listener-scoped", Namespace: operatorNamespace},
			Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{
				Name: "mine", Rules: []monitoringv1.Rule{{Alert: "Mine", Expr: intstr.FromString("vector(1)")}},
			}}},
		}
		Expect(admin.Create(ctx, foreign)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(admin.Delete(ctx, foreign))).To(Succeed()) })
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			wc := getWolConfig(ctx, "scoped")
			wc.Labels = map[string]string{"touched": "yes"} // a reconcile of "scoped"
			return admin.Update(ctx, wc)
		})).To(Succeed())
		Consistently(gone("wol-listener-scoped"), 2*time.Second, poll).Should(BeFalse())

		By("creating none for a new WolConfig")
		Expect(admin.Create(ctx, newWolConfig("norules", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{41101}
			wc.Spec.Listener.MetricsPort = ptr.To[int32](41102)
		}))).To(Succeed())
		Eventually(func() error { return admin.Get(ctx, key("wol-listener-norules"), &monitoringv1.ServiceMonitor{}) },
			timeout, poll).Should(Succeed())
		Consistently(gone("wol-listener-norules"), 2*time.Second, poll).Should(BeTrue())
	})
})
