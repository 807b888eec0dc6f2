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
	"fmt"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// The listener alerts are defined once, here. The operator puts them in a
// PrometheusRule per WolConfig, matching that WolConfig's listener series
// exactly (ListenerMatchers); `make generated` writes the same rules for
// every listener (AnyListenerMatchers) to dist/monitoring/prometheus-rules.yaml
// (a Prometheus rule file) and config/alerts (the Helm chart's
// prometheusRule.enabled option), and test/monitoring holds a promtool test
// of every alert. Each alert is written once, as a format string in which
// %[1]s stands for the label matchers.

const (
	// AlertGroupName names the rule group of the listener alerts.
	AlertGroupName = "kubevirt-wol-listener"
	// RunbookBaseURL is the document the alerts' runbook_url annotations
	// point into, one section (heading) per alert.
	RunbookBaseURL = "https://github.com/gpillon/kubevirt-wol/blob/main/docs/runbooks.md"
	// AnyListenerMatchers match the series of every WolConfig's listeners as
	// the operator's ServiceMonitors have them scraped: job is the metrics
	// Service's name, wol-listener-<WolConfig>.
	AnyListenerMatchers = `job=~"wol-listener-.+"`

	severityWarning  = "warning"
	severityCritical = "critical"

	// alertNoListenerUp is the alert a WolConfig scaled to zero on purpose
	// does not get.
	alertNoListenerUp = "KubevirtWolNoListenerUp"
)

// ListenerMatchers match the series of the WolConfig's listeners as its
// ServiceMonitor has them scraped: the Prometheus Operator sets job to the
// name of the Service the ServiceMonitor selects (it sets no jobLabel) and
// namespace to that Service's namespace.
func ListenerMatchers(wc *wolv1beta1.WolConfig, p Params) string {
	return fmt.Sprintf(`job=%q, namespace=%q`, BuildMetricsService(wc, p).Name, p.Namespace)
}

// ListenerAlert is one alert of the listener rule group.
type ListenerAlert struct {
	// Name is the alert's name and, lowercased, its runbook's anchor.
	Name string
	// Expr is the PromQL expression, %[1]s standing for the label matchers.
	Expr string
	// For is how long Expr must hold before the alert fires ("" at once).
	For monitoringv1.Duration
	// Severity is the severity label: critical or warning.
	Severity string
	// Summary and Description are the alert's annotations (Prometheus
	// templates: $labels, $value).
	Summary, Description string
}

// RunbookURL is the alert's section of docs/runbooks.md.
func (a ListenerAlert) RunbookURL() string {
	return RunbookBaseURL + "#" + strings.ToLower(a.Name)
}

// ListenerAlerts are the listener alerts, from availability to policy.
// Every series they read is served by every listener from its start
// (docs/metrics.md), except up, which Prometheus writes for each target.
var ListenerAlerts = []ListenerAlert{
	{
		Name:     "KubevirtWolListenerDown",
		Expr:     `up{%[1]s} == 0`,
		For:      minutes(5),
		Severity: severityWarning,
		Summary:  "A kubevirt-wol listener cannot be scraped.",
		Description: "Prometheus has failed to scrape the listener {{ $labels.pod }} ({{ $labels.instance }}, " +
			"job {{ $labels.job }} in {{ $labels.namespace }}) for 5 minutes. Either the listener does not serve on " +
			"its node, and magic packets reaching that node wake no VM, or Prometheus is refused (the target's " +
			"last error says which).",
	},
	{
		Name:     alertNoListenerUp,
		Expr:     `sum by (namespace, job) (up{%[1]s}) == 0 or absent(up{%[1]s})`,
		For:      minutes(10),
		Severity: severityCritical,
		Summary:  "No kubevirt-wol listener is up: magic packets wake no VM.",
		Description: "No listener{{ with $labels.job }} of {{ . }}{{ end }} has been scraped successfully for " +
			"10 minutes: either none runs (the WolConfig's Deployment has no running pod, or it is in a port " +
			"conflict) or Prometheus cannot scrape any (not selected, or refused). Until one is up, no magic packet " +
			"for the VMs of that WolConfig is heard.",
	},
	{
		Name: "KubevirtWolListenerNotReady",
		Expr: `(up{%[1]s} == 1) unless on (namespace, job, instance) ` +
			`(sum by (namespace, job, instance) (wol_listener_sockets{%[1]s}) > 0)`,
		For:      minutes(10),
		Severity: severityWarning,
		Summary:  "A kubevirt-wol listener runs but has no socket bound.",
		Description: "The listener {{ $labels.pod }} ({{ $labels.instance }}, job {{ $labels.job }}) answers scrapes " +
			"but has had no Wake-on-LAN socket bound for 10 minutes, so it hears no magic packet and its readiness " +
			"probe fails. Its log says why: a port in use or not permitted, or the WolConfig or VMs cannot be read.",
	},
	{
		Name: "KubevirtWolVMStartsFailing",
		Expr: `sum by (namespace, job) ` +
			`(increase(wol_vm_start_outcomes_total{%[1]s, outcome="failed"}[15m])) > 0`,
		Severity: severityWarning,
		Summary:  "kubevirt-wol failed to start VMs it was asked to wake.",
		Description: "The listeners of {{ $labels.job }} failed to start VMs that magic packets named " +
			"({{ $value | humanize }} in the last 15 minutes): KubeVirt refused the request, the start subresource " +
			"is not served, or the API answered an error. Those VMs were not started; the WakeFailed events on them " +
			"give the reason.",
	},
	{
		Name:     "KubevirtWolWakesExpired",
		Expr:     `sum by (namespace, job) (increase(wol_wakes_expired_total{%[1]s}[15m])) > 0`,
		Severity: severityWarning,
		Summary:  "kubevirt-wol abandoned wakes at their deadline.",
		Description: "The listeners of {{ $labels.job }} abandoned wakes because the VM could not be started " +
			"before spec.wakeDeadlineSeconds ({{ $value | humanize }} in the last 15 minutes): typically the API " +
			"server or virt-api was unreachable, or the wake queue backed up. Those VMs were not started.",
	},
	{
		Name: "KubevirtWolWakeQueueFull",
		Expr: `sum by (namespace, job) ` +
			`(increase(wol_dropped_packets_total{%[1]s, reason="queue_full"}[15m])) > 0`,
		Severity: severityWarning,
		Summary:  "kubevirt-wol dropped magic packets because its wake queue was full.",
		Description: "The listeners of {{ $labels.job }} dropped valid magic packets because the wake queue was " +
			"full ({{ $value | humanize }} in the last 15 minutes): the workers do not keep up with starting VMs " +
			"(the API server is slow, or a burst exceeds the queue of 1024 wakes). Those wakes are lost.",
	},
	{
		Name: "KubevirtWolPacketsRateLimited",
		Expr: `sum by (namespace, job, reason) ` +
			`(increase(wol_dropped_packets_total{%[1]s, reason=~"rate_limit_source|rate_limit_global"}[5m])) > 0`,
		For:      minutes(10),
		Severity: severityWarning,
		Summary:  "kubevirt-wol has been refusing magic packets by rate limit for 10 minutes.",
		Description: "The listeners of {{ $labels.job }} have dropped magic packets by the {{ $labels.reason }} " +
			"limit for 10 minutes ({{ $value | humanize }} in the last 5 minutes): a sender floods the network " +
			"with wakes, or the limits are too low for legitimate traffic. A wake refused this way is lost " +
			"(rate_limit_global refuses every sender's).",
	},
	{
		Name:     "KubevirtWolMACConflicts",
		Expr:     `max by (namespace, job) (wol_vm_mac_conflicts{%[1]s}) > 0`,
		For:      minutes(15),
		Severity: severityWarning,
		Summary:  "Several VMs claim the same MAC address: a magic packet wakes none of them.",
		Description: "MAC addresses are claimed by more than one VM in the scope of {{ $labels.job }} " +
			"({{ $value }} such MACs). A magic packet for such a MAC is ignored (never guessed), so those VMs " +
			"cannot be woken; the WolConfig's status lists the conflicts.",
	},
	{
		Name: "KubevirtWolSecureOnRefusalsHigh",
		Expr: `sum by (namespace, job) ` +
			`(increase(wol_wakes_refused_total{%[1]s, reason=~"password_missing|password_wrong"}[10m])) > 10`,
		Severity: severityWarning,
		Summary:  "Many magic packets are refused for a missing or wrong SecureOn password.",
		Description: "The listeners of {{ $labels.job }} refused wakes because the packet lacked the SecureOn " +
			"password its VM requires, or carried another one ({{ $value | humanize }} in the last 10 minutes): a " +
			"sender is misconfigured, or someone is guessing passwords. WakeRefusedSecureOn events on the VMs name " +
			"the senders.",
	},
	{
		Name: "KubevirtWolSecureOnPasswordUnusable",
		Expr: `sum by (namespace, job, reason) ` +
			`(increase(wol_wakes_refused_total{%[1]s, reason=~"password_unavailable|password_invalid"}[15m])) > 0`,
		Severity: severityWarning,
		Summary:  "A VM requires a SecureOn password kubevirt-wol cannot use: no packet can wake it.",
		Description: "The listeners of {{ $labels.job }} refused wakes in the last 15 minutes because the SecureOn " +
			"password the VM requires is {{ if eq $labels.reason \"password_invalid\" }}not 4 or 6 bytes" +
			"{{ else }}unreadable (Secret or key missing, or access denied){{ end }}. Such a VM refuses every " +
			"packet until the Secret is fixed.",
	},
}

func minutes(n int) monitoringv1.Duration { return monitoringv1.Duration(fmt.Sprintf("%dm", n)) }

// AlertRuleGroups returns the listener alerts for the series that matchers
// select (ListenerMatchers or AnyListenerMatchers).
func AlertRuleGroups(matchers string) []monitoringv1.RuleGroup {
	return ruleGroups(matchers, ListenerAlerts)
}

func ruleGroups(matchers string, alerts []ListenerAlert) []monitoringv1.RuleGroup {
	rules := make([]monitoringv1.Rule, 0, len(alerts))
	for _, a := range alerts {
		r := monitoringv1.Rule{
			Alert:  a.Name,
			Expr:   intstr.FromString(fmt.Sprintf(a.Expr, matchers)),
			Labels: map[string]string{"severity": a.Severity},
			Annotations: map[string]string{
				"summary":     a.Summary,
				"description": a.Description,
				"runbook_url": a.RunbookURL(),
			},
		}
		if a.For != "" {
			r.For = ptr.To(a.For)
		}
		rules = append(rules, r)
	}
	return []monitoringv1.RuleGroup{{Name: AlertGroupName, Rules: rules}}
}

// BuildPrometheusRule builds the PrometheusRule holding the listener alerts
// of a WolConfig, next to its ServiceMonitor and matching the series that
// ServiceMonitor has scraped. A WolConfig scaled to zero
// (spec.listener.replicas: 0) runs no listener on purpose: it does not get
// KubevirtWolNoListenerUp.
func BuildPrometheusRule(wc *wolv1beta1.WolConfig, p Params) *monitoringv1.PrometheusRule {
	alerts := ListenerAlerts
	if ptr.Deref(wc.Spec.Listener.Replicas, wolv1beta1.DefaultListenerReplicas) == 0 {
		alerts = slices.DeleteFunc(slices.Clone(alerts), func(a ListenerAlert) bool { return a.Name == alertNoListenerUp })
	}
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: ruleGroups(ListenerMatchers(wc, p), alerts)},
	}
}
