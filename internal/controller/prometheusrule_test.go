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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

func TestBuildPrometheusRule(t *testing.T) {
	cases := []struct {
		name     string
		wc       *wolv1beta1.WolConfig
		p        Params
		matchers string
		without  []string // alerts left out
	}{
		{"default", defaulted("wol-config"), testParams,
			`job="wol-listener-wol-config", namespace="kubevirt-wol-system"`, nil},
		{"another namespace", defaulted("lab"), Params{Namespace: "wol"},
			`job="wol-listener-lab", namespace="wol"`, nil},
		{"scaled to zero: no listener is expected up", defaulted("idle", func(wc *wolv1beta1.WolConfig) {
			wc.Spec.Listener.Replicas = ptr.To[int32](0)
		}), testParams, `job="wol-listener-idle", namespace="kubevirt-wol-system"`, []string{"KubevirtWolNoListenerUp"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rule := BuildPrometheusRule(tc.wc, tc.p)
			if rule.Name != ListenerName(tc.wc) || rule.Namespace != tc.p.Namespace {
				t.Errorf("PrometheusRule %s/%s, want %s/%s", rule.Namespace, rule.Name, tc.p.Namespace, ListenerName(tc.wc))
			}
			if !metav1.IsControlledBy(rule, tc.wc) {
				t.Error("the PrometheusRule is not controlled by its WolConfig")
			}
			if got := ListenerMatchers(tc.wc, tc.p); got != tc.matchers {
				t.Errorf("matchers %s, want %s", got, tc.matchers)
			}
			if len(rule.Spec.Groups) != 1 {
				t.Fatalf("want one group, got %+v", rule.Spec.Groups)
			}
			var got, want []string
			for _, r := range rule.Spec.Groups[0].Rules {
				got = append(got, r.Alert)
				checkScoped(t, r.Alert, r.Expr.String(), tc.matchers)
			}
			for _, a := range ListenerAlerts {
				if !slices.Contains(tc.without, a.Name) {
					want = append(want, a.Name)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("alerts %v, want %v", got, want)
			}
		})
	}
}

// TestAlertsMatchTheServiceMonitor holds the alerts' matchers to what the
// Prometheus Operator makes of the ServiceMonitor: job is the name of the
// Service it selects, as long as it sets no jobLabel, and namespace that
// Service's.
func TestAlertsMatchTheServiceMonitor(t *testing.T) {
	wc := defaulted("lab")
	sm, svc := BuildServiceMonitor(wc, testParams), BuildMetricsService(wc, testParams)
	if sm.Spec.JobLabel != "" {
		t.Fatalf("the ServiceMonitor sets jobLabel %q: the alerts' job matcher must follow it", sm.Spec.JobLabel)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Fatalf("the ServiceMonitor does not select the metrics Service (label %s)", k)
		}
	}
	if sm.Namespace != svc.Namespace {
		t.Fatalf("ServiceMonitor in %s, Service in %s", sm.Namespace, svc.Namespace)
	}
	want := `job="` + svc.Name + `", namespace="` + svc.Namespace + `"`
	if got := ListenerMatchers(wc, testParams); got != want {
		t.Errorf("matchers %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^wol-listener-.+$`).MatchString(svc.Name) {
		t.Errorf("the Service %s is not matched by AnyListenerMatchers (%s)", svc.Name, AnyListenerMatchers)
	}
}

// checkScoped fails unless every series selector of expr starts with the
// matchers: no alert reads series of other jobs.
func checkScoped(t *testing.T, alert, expr, matchers string) {
	t.Helper()
	selectors := 0
	for i := strings.Index(expr, "{"); i >= 0; i = strings.Index(expr, "{") {
		expr = expr[i+1:]
		selectors++
		if !strings.HasPrefix(expr, matchers+"}") && !strings.HasPrefix(expr, matchers+", ") {
			t.Errorf("%s: a selector does not start with %s: {%s", alert, matchers, expr)
		}
	}
	if selectors == 0 {
		t.Errorf("%s: no series selector", alert)
	}
}

func TestListenerAlerts(t *testing.T) {
	metricsDoc, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`\b(?:wol_[a-z_]+|up)\{`)
	seen := map[string]bool{}
	for _, a := range ListenerAlerts {
		if seen[a.Name] {
			t.Errorf("alert %s twice", a.Name)
		}
		seen[a.Name] = true
		if !regexp.MustCompile(`^KubevirtWol[A-Z][A-Za-z]+$`).MatchString(a.Name) {
			t.Errorf("%s: alert names are KubevirtWol<CamelCase>", a.Name)
		}
		if a.Severity != severityWarning && a.Severity != severityCritical {
			t.Errorf("%s: severity %q", a.Name, a.Severity)
		}
		if a.Summary == "" || a.Description == "" {
			t.Errorf("%s: summary and description are required", a.Name)
		}
		if !strings.Contains(a.Expr, "%[1]s") || strings.Contains(strings.ReplaceAll(a.Expr, "%[1]s", ""), "%") {
			t.Errorf("%s: the expression must take the matchers as %%[1]s, and nothing else", a.Name)
		}
		for _, m := range metric.FindAllString(a.Expr, -1) {
			name := strings.TrimSuffix(m, "{")
			if name != "up" && !strings.Contains(string(metricsDoc), "`"+name+"`") {
				t.Errorf("%s reads %s, which docs/metrics.md does not list", a.Name, name)
			}
		}
	}
	for _, r := range AlertRuleGroups(AnyListenerMatchers)[0].Rules {
		checkScoped(t, r.Alert, r.Expr.String(), AnyListenerMatchers)
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[k] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, k)
			}
		}
	}
}

// TestRunbooksExist checks that every runbook_url points at a heading of
// docs/runbooks.md (GitHub's anchor of "## Name" is "#name").
func TestRunbooksExist(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[githubAnchor(h)] = true
		}
	}
	for _, a := range ListenerAlerts {
		url := a.RunbookURL()
		base, anchor, _ := strings.Cut(url, "#")
		if base != RunbookBaseURL {
			t.Errorf("%s: runbook_url %s is not in %s", a.Name, url, RunbookBaseURL)
		}
		if !anchors[anchor] {
			t.Errorf("%s: docs/runbooks.md has no section %q (want a heading \"## %s\")", a.Name, anchor, a.Name)
		}
	}
}

// githubAnchor is the anchor GitHub gives a heading: lowercased, spaces to
// hyphens, punctuation but hyphens and underscores dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// promtoolTests is the part of a `promtool test rules` file this test reads.
type promtoolTests struct {
	Tests []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestEveryAlertHasPromtoolTests checks that test/monitoring holds, for
// every alert, a case where it fires and one where it does not, so that an
// alert cannot be added untested (`make test-rules` runs them).
func TestEveryAlertHasPromtoolTests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "monitoring", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool tests in test/monitoring: %v", err)
	}
	fires, silent := map[string]int{}, map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		if err := yaml.Unmarshal(data, &pt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range pt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname]++
				} else {
					silent[a.Alertname]++
				}
			}
		}
	}
	for _, a := range ListenerAlerts {
		if fires[a.Name] == 0 || silent[a.Name] == 0 {
			t.Errorf("%s: test/monitoring has %d cases where it fires and %d where it does not; want both",
				a.Name, fires[a.Name], silent[a.Name])
		}
		delete(fires, a.Name)
		delete(silent, a.Name)
	}
	for name := range fires {
		t.Errorf("test/monitoring tests an alert %s that ListenerAlerts does not define", name)
	}
	for name := range silent {
		t.Errorf("test/monitoring tests an alert %s that ListenerAlerts does not define", name)
	}
}
