//go:build e2e

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

package e2e

// The real scrape: the Prometheus Operator (BeforeSuite) turns a Prometheus
// resource selecting the ServiceMonitor our operator created into a
// configuration, and a real Prometheus runs it (promstack) on the LAN, as
// a ServiceAccount that holds only what docs/metrics.md says Prometheus
// needs. Everything is asserted through Prometheus's HTTP API.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/promstack"
)

const (
	monitoringNS = "e2e-monitoring"
	// scrapePool is the scrape pool the Prometheus Operator makes of our
	// ServiceMonitor's first endpoint.
	scrapePool = "serviceMonitor/" + operatorNS + "/wol-listener-" + wcName + "/0"
	promPoll   = 500 * time.Millisecond
)

// prometheuses are the Prometheus servers started so far (stopped by
// AfterSuite).
var prometheuses []*promstack.Server

// prom is the Prometheus that holds the metrics-reader role.
var prom *promstack.Server

func stopPrometheus() {
	for _, p := range prometheuses {
		p.Stop()
	}
	prometheuses = nil
}

// monitoringRBAC is what docs/metrics.md says Prometheus needs to scrape the
// listeners through the ServiceMonitor: the kubevirt-wol-metrics-reader
// ClusterRole (get /metrics, checked by the listener) and, in the
// listeners' namespace, what the Prometheus Operator documents its
// Kubernetes service discovery needs there (get, list and watch services,
// pods, endpoints and endpointslices). Two ServiceAccounts: "prometheus"
// gets both, "prometheus-no-reader" only the discovery.
const monitoringRBAC = `
apiVersion: v1
kind: Namespace
metadata:
  name: ` + monitoringNS + `
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: ` + monitoringNS + `
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus-no-reader
  namespace: ` + monitoringNS + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: e2e-monitoring-prometheus-metrics-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kubevirt-wol-metrics-reader
subjects:
- kind: ServiceAccount
  name: prometheus
  namespace: ` + monitoringNS + `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: prometheus-discovery
  namespace: ` + operatorNS + `
rules:
- apiGroups: [""]
  resources: [services, endpoints, pods]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: prometheus-discovery
  namespace: ` + operatorNS + `
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: prometheus-discovery
subjects:
- kind: ServiceAccount
  name: prometheus
  namespace: ` + monitoringNS + `
- kind: ServiceAccount
  name: prometheus-no-reader
  namespace: ` + monitoringNS + `
`

// prometheusResource is a Prometheus resource of monitoringNS selecting the
// ServiceMonitors and PrometheusRules of our operator in operatorNS, for the
// version of bin/prometheus, scraping and evaluating every 2 s.
func prometheusResource(name, serviceAccount, discoveryRole string) string {
	version, err := promstack.Version()
	Expect(err).NotTo(HaveOccurred())
	return fmt.Sprintf(`
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: %s
  namespace: %s
spec:
  version: %s
  serviceAccountName: %s
  serviceDiscoveryRole: %s
  scrapeInterval: 2s
  evaluationInterval: 2s
  serviceMonitorSelector:
    matchLabels:
      app.kubernetes.io/part-of: kubevirt-wol
  serviceMonitorNamespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: %[6]s
  ruleSelector:
    matchLabels:
      app.kubernetes.io/part-of: kubevirt-wol
  ruleNamespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: %[6]s
`, name, monitoringNS, version, serviceAccount, discoveryRole, operatorNS)
}

// startPrometheus applies a Prometheus resource and runs Prometheus for it
// on the LAN's monitor host, web port port.
func startPrometheus(ctx context.Context, name, manifest string, port int) *promstack.Server {
	GinkgoHelper()
	Expect(kwokcluster.Apply(ctx, adminCfg, []byte(manifest), fieldOwner)).To(Succeed())
	p, err := promstack.Start(ctx, monitoringNS, name, promstack.Options{
		Dir: filepath.Join(workdir, "prometheus-"+name), Admin: adminCfg, Host: lan.Host("monitor"), Port: port,
	})
	Expect(err).NotTo(HaveOccurred())
	prometheuses = append(prometheuses, p)
	GinkgoWriter.Printf("prometheus %s: %s, pod %s as ServiceAccount %s; in-pod paths moved:\n  %s\n",
		name, p.URL(), p.Pod.Name, p.Pod.Spec.ServiceAccountName, strings.Join(p.Rewritten, "\n  "))
	return p
}

// poolTargets returns the targets of our scrape pool.
func poolTargets(ctx context.Context, p *promstack.Server) func(Gomega) []promv1.ActiveTarget {
	return func(g Gomega) []promv1.ActiveTarget {
		ts, err := p.Targets(ctx, scrapePool)
		g.Expect(err).NotTo(HaveOccurred())
		return ts
	}
}

func describeTargets(ts []promv1.ActiveTarget) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s %s %s %q; ", t.ScrapeURL, t.Health, t.Labels["pod"], t.LastError)
	}
	return b.String()
}

func prometheusRule() *unstructured.Unstructured {
	pr := &unstructured.Unstructured{}
	pr.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"})
	return pr
}

func scrapedByPrometheus(ctx SpecContext) {
	By("waiting for the ServiceMonitor the operator creates once the Prometheus Operator's API is served")
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"})
	Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "wol-listener-" + wcName}, sm)
	}, timeout, interval).Should(Succeed())
	Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "wol-listener-" + wcName}, prometheusRule())
	}, timeout, interval).Should(Succeed(), "the operator created no PrometheusRule")

	By("creating Prometheus's ServiceAccount with only the metrics-reader role and service discovery in " + operatorNS)
	Expect(kwokcluster.Apply(ctx, adminCfg, []byte(monitoringRBAC), fieldOwner)).To(Succeed())

	By("running a real Prometheus with the configuration the Prometheus Operator generated for a Prometheus resource")
	prom = startPrometheus(ctx, "wol", prometheusResource("wol", "prometheus", "Endpoints"), 9090)
	Expect(prom.GeneratedConfig()).To(ContainSubstring("job_name: " + scrapePool))

	By("Prometheus discovering both listeners through the API and scraping them: up == 1")
	var ts []promv1.ActiveTarget
	Eventually(func(g Gomega) {
		ts = poolTargets(ctx, prom)(g)
		g.Expect(ts).To(HaveLen(2), describeTargets(ts))
		for _, t := range ts {
			g.Expect(t.Health).To(Equal(promv1.HealthGood), describeTargets(ts))
		}
	}, 2*timeout, promPoll).Should(Succeed())
	urls := make([]string, 0, len(ts))
	for _, t := range ts {
		urls = append(urls, t.ScrapeURL)
	}
	Expect(urls).To(ConsistOf(
		"https://"+lan.Host("node0").IP.String()+":9847/metrics",
		"https://"+lan.Host("node1").IP.String()+":9847/metrics"))
	up, err := prom.Query(ctx, `up{job="wol-listener-`+wcName+`"}`)
	Expect(err).NotTo(HaveOccurred())
	Expect(up).To(HaveLen(2))
	for _, s := range up {
		Expect(float64(s.Value)).To(Equal(1.0), s.String())
	}
	GinkgoWriter.Printf("targets: %s\nup: %s\n", describeTargets(ts), up)
}

func wakeSeenByPrometheus(ctx SpecContext) {
	Expect(prom).NotTo(BeNil(), "no Prometheus: the previous spec failed")
	const (
		accepted = `sum(wol_packets_total{job="wol-listener-` + wcName + `",result="accepted"})`
		started  = `sum(wol_vm_started_total{job="wol-listener-` + wcName + `"})`
	)
	var acceptedBefore, startedBefore float64
	Eventually(func(g Gomega) {
		var err error
		acceptedBefore, err = prom.Value(ctx, accepted)
		g.Expect(err).NotTo(HaveOccurred())
		startedBefore, err = prom.Value(ctx, started)
		g.Expect(err).NotTo(HaveOccurred())
	}, timeout, promPoll).Should(Succeed())

	By("waking a new VM with wakeonlan from the sender")
	// The discovery mode is LabelSelector wake=yes since an earlier spec.
	Expect(k8s.Create(ctx, vm(vmNS, "scraped", "52:54:00:e2:00:0a", map[string]string{"wake": "yes"}, kubevirtv1.RunStrategyHalted))).To(Succeed())
	Eventually(func() kubevirtv1.VirtualMachineRunStrategy {
		wakeonlan("52:54:00:e2:00:0a")
		return runStrategy(ctx, vmNS, "scraped")()
	}, timeout, time.Second).Should(Equal(kubevirtv1.RunStrategyAlways))

	By("Prometheus's next scrapes seeing the counters move")
	var acceptedAfter, startedAfter float64
	Eventually(func(g Gomega) {
		var err error
		acceptedAfter, err = prom.Value(ctx, accepted)
		g.Expect(err).NotTo(HaveOccurred())
		startedAfter, err = prom.Value(ctx, started)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(acceptedAfter).To(BeNumerically(">", acceptedBefore))
		g.Expect(startedAfter).To(Equal(startedBefore + 1))
	}, timeout, promPoll).Should(Succeed())
	GinkgoWriter.Printf("%s: %v -> %v\n%s: %v -> %v\n", accepted, acceptedBefore, acceptedAfter, started, startedBefore, startedAfter)
}

func refusedWithoutReaderRole(ctx SpecContext) {
	By("a Prometheus whose ServiceAccount may discover the listeners but not read /metrics (EndpointSlice discovery)")
	p := startPrometheus(ctx, "no-reader", prometheusResource("no-reader", "prometheus-no-reader", "EndpointSlice"), 9091)
	var ts []promv1.ActiveTarget
	Eventually(func(g Gomega) {
		ts = poolTargets(ctx, p)(g)
		g.Expect(ts).To(HaveLen(2), describeTargets(ts))
		for _, t := range ts {
			g.Expect(t.Health).To(Equal(promv1.HealthBad), describeTargets(ts))
			g.Expect(t.LastError).To(ContainSubstring("403 Forbidden"))
		}
	}, 2*timeout, promPoll).Should(Succeed())
	GinkgoWriter.Printf("targets without the metrics-reader role: %s\n", describeTargets(ts))

	By("a GET of the discovered target without a token, from the monitoring host")
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     lan.Host("monitor").DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the listener's certificate is self-signed
	}}
	resp, err := plain.Get(ts[0].ScrapeURL)
	Expect(err).NotTo(HaveOccurred())
	_ = resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	p.Stop()
}

func alertsLoaded(ctx SpecContext) {
	Expect(prom).NotTo(BeNil(), "no Prometheus: an earlier spec failed")
	By("the PrometheusRule the operator created, turned by the Prometheus Operator into a rule-file ConfigMap, loaded")
	pr := prometheusRule()
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "wol-listener-" + wcName}, pr)).To(Succeed())
	groups, _, err := unstructured.NestedSlice(pr.Object, "spec", "groups")
	Expect(err).NotTo(HaveOccurred())
	want := map[string]int{}
	for _, g := range groups {
		g := g.(map[string]any)
		rules, _, _ := unstructured.NestedSlice(g, "rules")
		want[g["name"].(string)] = len(rules)
	}
	Expect(want).NotTo(BeEmpty())
	Expect(prom.Sync(ctx)).To(Succeed())
	var loaded []promv1.RuleGroup
	Eventually(func(g Gomega) {
		var err error
		loaded, err = prom.Rules(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		got := map[string]int{}
		for _, rg := range loaded {
			got[rg.Name] = len(rg.Rules)
			g.Expect(rg.File).To(HavePrefix(filepath.Join(workdir, "prometheus-wol", "pod", "etc", "prometheus", "rules")))
			for _, r := range rg.Rules {
				a, ok := r.(promv1.AlertingRule)
				g.Expect(ok).To(BeTrue(), "%s: a rule that is no alert: %v", rg.Name, r)
				g.Expect(a.Health).To(BeEquivalentTo(promv1.RuleHealthGood), "%s: %s", a.Name, a.LastError)
			}
		}
		g.Expect(got).To(Equal(want))
	}, timeout, promPoll).Should(Succeed())
	var b strings.Builder
	for _, rg := range loaded {
		fmt.Fprintf(&b, "group %s (%s):", rg.Name, rg.File)
		for _, r := range rg.Rules {
			a := r.(promv1.AlertingRule)
			fmt.Fprintf(&b, " %s=%s/%s", a.Name, a.Health, a.State)
		}
		b.WriteString("\n")
	}
	GinkgoWriter.Print(b.String())

	By("two VMs in scope sharing a MAC: KubevirtWolMACConflicts goes pending")
	for _, name := range []string{"twin-c", "twin-d"} {
		Expect(k8s.Create(ctx, vm(vmNS, name, "52:54:00:e2:00:0b", map[string]string{"wake": "yes"}, kubevirtv1.RunStrategyHalted))).To(Succeed())
	}
	var alert *promv1.Alert
	Eventually(func(g Gomega) {
		res, err := prom.API().Alerts(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		alert = nil
		for i, a := range res.Alerts {
			if a.Labels["alertname"] == "KubevirtWolMACConflicts" {
				alert = &res.Alerts[i]
			}
		}
		if alert == nil {
			// Say what Prometheus sees, should the alert never come.
			conflicts, _ := prom.Query(ctx, `wol_vm_mac_conflicts`)
			ts, _ := prom.Targets(ctx, scrapePool)
			g.Expect(alert).NotTo(BeNil(), "no alert; wol_vm_mac_conflicts %s; targets %s", conflicts, describeTargets(ts))
		}
		g.Expect(alert.State).To(BeElementOf(promv1.AlertStatePending, promv1.AlertStateFiring))
	}, timeout, promPoll).Should(Succeed())
	Expect(alert.Labels).To(HaveKeyWithValue(model.LabelName("job"), model.LabelValue("wol-listener-"+wcName)))
	Expect(alert.Labels).To(HaveKeyWithValue(model.LabelName("namespace"), model.LabelValue(operatorNS)))
	Expect(alert.Annotations).To(HaveKey(model.LabelName("runbook_url")))
	GinkgoWriter.Printf("alert %s %s value %s %s\n", alert.Labels, alert.State, alert.Value, alert.Annotations["runbook_url"])
}

// dashboardVariable is a templating variable of the Grafana dashboard.
type dashboardVariable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
}

// dashboardPanel is a panel of the dashboard (rows' and nested panels'
// included), with the PromQL of its targets.
type dashboardPanel struct {
	Title   string           `json:"title"`
	Panels  []dashboardPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var labelValuesRE = regexp.MustCompile(`^label_values\((?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func dashboardQueries(ctx SpecContext) {
	Expect(prom).NotTo(BeNil(), "no Prometheus: an earlier spec failed")
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "dist", "monitoring", "grafana-dashboard.json"))
	Expect(err).NotTo(HaveOccurred())
	var dash struct {
		Templating struct {
			List []dashboardVariable `json:"list"`
		} `json:"templating"`
		Rows   []dashboardPanel `json:"rows"`
		Panels []dashboardPanel `json:"panels"`
	}
	Expect(json.Unmarshal(data, &dash)).To(Succeed())

	By("resolving the dashboard's variables as Grafana does, with Prometheus's label values")
	// Grafana's own interval variables, should a query use them.
	values := map[string]string{"__rate_interval": "1m", "__interval": "2s", "__range": "1h"}
	subst := func(s string) string {
		for name, v := range values {
			s = strings.ReplaceAll(s, "${"+name+"}", v)
			s = strings.ReplaceAll(s, "$"+name, v)
		}
		return s
	}
	var alls []dashboardVariable
	for _, v := range dash.Templating.List {
		switch v.Type {
		case "datasource", "interval", "constant", "textbox", "custom":
			continue
		case "query":
		default:
			Fail(fmt.Sprintf("dashboard variable %s: type %s not handled", v.Name, v.Type))
		}
		q, ok := v.Query.(string)
		if !ok {
			q, _ = v.Query.(map[string]any)["query"].(string)
		}
		m := labelValuesRE.FindStringSubmatch(subst(q))
		Expect(m).NotTo(BeNil(), "dashboard variable %s: query %q", v.Name, q)
		var matches []string
		if m[1] != "" {
			matches = []string{m[1]}
		}
		lv, _, _, err := prom.API().LabelValues(ctx, m[2], matches, time.Now().Add(-time.Hour), time.Now())
		Expect(err).NotTo(HaveOccurred())
		Expect(lv).NotTo(BeEmpty(), "dashboard variable %s: %s has no values", v.Name, subst(q))
		values[v.Name] = string(lv[0])
		GinkgoWriter.Printf("$%s = %q (of %v)\n", v.Name, lv[0], lv)
		if v.IncludeAll && v.AllValue != "" {
			alls = append(alls, v)
		}
	}

	var panels []dashboardPanel
	var flatten func([]dashboardPanel)
	flatten = func(ps []dashboardPanel) {
		for _, p := range ps {
			if len(p.Targets) > 0 {
				panels = append(panels, p)
			}
			flatten(p.Panels)
		}
	}
	flatten(dash.Rows)
	flatten(dash.Panels)
	Expect(panels).NotTo(BeEmpty())

	// Each query with the variables as picked, then with every "All" value.
	settings := make([]map[string]string, 0, 1+len(alls))
	settings = append(settings, maps.Clone(values))
	for _, v := range alls {
		all := maps.Clone(values)
		all[v.Name] = v.AllValue
		settings = append(settings, all)
	}
	By(fmt.Sprintf("running the %d panels' queries, each with %d settings of the variables", len(panels), len(settings)))
	queries := 0
	for _, set := range settings {
		values = set
		for _, p := range panels {
			for _, t := range p.Targets {
				q := subst(t.Expr)
				Expect(q).NotTo(ContainSubstring("$"), "panel %q: a variable left in %s", p.Title, q)
				var v model.Vector
				Eventually(func(g Gomega) {
					var err error
					v, err = prom.Query(ctx, q)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(v).NotTo(BeEmpty(), "panel %q: no data for %s", p.Title, q)
				}, 10*time.Second, promPoll).Should(Succeed())
				queries++
				GinkgoWriter.Printf("%-40q %s => %s\n", p.Title, q, strings.ReplaceAll(v.String(), "\n", "; "))
			}
		}
	}
	GinkgoWriter.Printf("%d dashboard queries returned data\n", queries)
}
