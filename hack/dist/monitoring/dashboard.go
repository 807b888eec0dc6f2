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

package main

import "strings"

// The dashboard is written in Grafana's classic form (rows of "graph" and
// "singlestat" panels, datasource variable, label_values() variables): the
// form the OpenShift console's monitoring dashboards render, and one every
// Grafana imports (current versions migrate the panels to "timeseries" and
// "stat" on load).
//
// Variables: $datasource (a Prometheus data source), $namespace (where the
// listeners run: label_values(wol_listener_sockets, namespace)) and $job
// (one WolConfig's listeners, wol-listener-<WolConfig>, or all of them).
// Every query selects {namespace="$namespace", job=~"$job"} (the `sel`
// below) and uses fixed windows: [5m] for rates and per-5-minute counts,
// [24h] for the day's totals. No latency panel: the listener exports no
// histogram.

// sel is the label matchers every query starts with.
const sel = `namespace="$namespace", job=~"$job"`

// q fills a query: %s stands for sel.
func q(format string) string { return strings.ReplaceAll(format, "%s", sel) }

// Panel kinds.
const (
	kindGraph = "graph"
	kindStat  = "singlestat"
)

type target struct {
	expr, legend string
}

type panel struct {
	kind    string // kindGraph or kindStat
	title   string
	desc    string
	unit    string // Grafana format: "short", "pps", "none"
	targets []target
}

type row struct {
	title  string
	panels []panel
}

func stat(title, desc, expr string) panel {
	return panel{kind: kindStat, title: title, desc: desc, unit: "none", targets: []target{{expr: expr}}}
}

func graph(title, desc, unit string, targets ...target) panel {
	return panel{kind: kindGraph, title: title, desc: desc, unit: unit, targets: targets}
}

// byLabel is a target summed by one label, the label as its legend.
func byLabel(label, format string) target {
	return target{q(strings.ReplaceAll(format, "LABEL", label)), "{{" + label + "}}"}
}

// rows are the dashboard's content.
var rows = []row{
	{title: "Listeners and VMs", panels: []panel{
		stat("Listeners up", "Listener targets Prometheus scrapes successfully (up == 1).",
			q(`sum(up{%s})`)),
		stat("Sockets bound", "Wake-on-LAN sockets bound by the listeners; 0 on a listener means it hears nothing.",
			q(`sum(wol_listener_sockets{%s})`)),
		stat("Managed VMs", "VMs a magic packet can wake now (= the WolConfig's status.managedVMs).",
			q(`max(wol_managed_vms{%s})`)),
		stat("MAC conflicts", "MACs claimed by several VMs in scope: none of them can be woken.",
			q(`max(wol_vm_mac_conflicts{%s})`)),
		stat("VMs started (24h)", "Real starts by magic packets in the last 24 hours.",
			q(`sum(increase(wol_vm_started_total{%s}[24h]))`)),
		stat("Wakes lost (24h)",
			"Wakes that failed to start their VM or expired at their deadline, in the last 24 hours.",
			q(`sum(increase(wol_vm_start_outcomes_total{%s, outcome="failed"}[24h]))`+
				` + sum(increase(wol_wakes_expired_total{%s}[24h]))`)),
	}},
	{title: "Packets", panels: []panel{
		graph("Packets by result",
			"Packets received by the listeners, by outcome (docs/metrics.md lists the results).", "pps",
			byLabel("result", `sum by (LABEL) (rate(wol_packets_total{%s}[5m]))`)),
		graph("Dropped packets by reason",
			"Packets not delivered to the wake handler, by reason: invalid, duplicate, rate limits, "+
				"a full queue, filtered or refused senders.", "pps",
			byLabel("reason", `sum by (LABEL) (rate(wol_dropped_packets_total{%s}[5m]))`)),
		graph("Wake queue",
			"Admitted wakes waiting for a worker, per listener (at most 1024: beyond, packets are dropped "+
				"as queue_full).", "short",
			byLabel("pod", `max by (LABEL) (wol_wake_queue_length{%s})`)),
		graph("Sockets bound", "Sockets bound per listener and protocol.", "short",
			target{q(`sum by (pod, protocol) (wol_listener_sockets{%s})`), "{{pod}} {{protocol}}"}),
	}},
	{title: "Wakes", panels: []panel{
		graph("Wake lookups by result",
			"Admitted wakes by the result of looking their MAC up (found, not_found, conflict, "+
				"mapped_vm_missing), per 5 minutes.", "short",
			byLabel("result", `sum by (LABEL) (increase(wol_wake_lookups_total{%s}[5m]))`)),
		graph("VM starts by outcome", "Every start attempt, by outcome, per 5 minutes.", "short",
			byLabel("outcome", `sum by (LABEL) (increase(wol_vm_start_outcomes_total{%s}[5m]))`)),
		graph("VMs started by path", "Real starts by path (subresource, direct), per 5 minutes.", "short",
			byLabel("path", `sum by (LABEL) (increase(wol_vm_started_total{%s}[5m]))`)),
		graph("Failures, expiries and retries",
			"Failed starts, wakes expired at their deadline, start retries by reason and listener errors "+
				"by stage, per 5 minutes.", "short",
			target{q(`sum(increase(wol_vm_start_outcomes_total{%s, outcome="failed"}[5m]))`), "failed starts"},
			target{q(`sum(increase(wol_wakes_expired_total{%s}[5m]))`), "expired wakes"},
			target{q(`sum by (reason) (increase(wol_vm_start_retries_total{%s}[5m]))`), "retry: {{reason}}"},
			target{q(`sum by (stage) (increase(wol_errors_total{%s}[5m]))`), "error: {{stage}}"}),
	}},
	{title: "Policy and scope", panels: []panel{
		graph("SecureOn refusals by reason",
			"Wakes refused by the SecureOn policy, per 5 minutes: password_missing and password_wrong are "+
				"senders, password_unavailable and password_invalid a Secret to fix.", "short",
			byLabel("reason", `sum by (LABEL) (increase(wol_wakes_refused_total{%s}[5m]))`)),
		graph("Rate limits, full queue and refused senders",
			"Packets dropped by the rate limits, a full wake queue or the allowedSources list, per 5 minutes.",
			"short",
			byLabel("reason", `sum by (LABEL) (increase(wol_dropped_packets_total{%s, `+
				`reason=~"rate_limit_source|rate_limit_global|queue_full|source"}[5m]))`)),
		graph("VM index",
			"What the listeners' VM index holds: wakeable VMs, MAC conflicts, VMs without a fixed MAC, "+
				"explicit mappings naming no VM.", "short",
			target{q(`max(wol_managed_vms{%s})`), "managed VMs"},
			target{q(`max(wol_vm_mac_conflicts{%s})`), "MAC conflicts"},
			target{q(`max(wol_vms_without_fixed_mac{%s})`), "VMs without a fixed MAC"},
			target{q(`max(wol_explicit_mappings_missing_vm{%s})`), "mappings to missing VMs"}),
	}},
}

// Queries returns every panel query of the dashboard, in order.
func Queries() []string {
	var out []string
	for _, r := range rows {
		for _, p := range r.panels {
			for _, t := range p.targets {
				out = append(out, t.expr)
			}
		}
	}
	return out
}

// Grafana's JSON model, the parts this dashboard uses.
type (
	jsonDashboard struct {
		UID           string        `json:"uid"`
		Title         string        `json:"title"`
		Description   string        `json:"description"`
		Tags          []string      `json:"tags"`
		Editable      bool          `json:"editable"`
		SchemaVersion int           `json:"schemaVersion"`
		Version       int           `json:"version"`
		Refresh       string        `json:"refresh"`
		Timezone      string        `json:"timezone"`
		Time          jsonRange     `json:"time"`
		Links         []jsonLink    `json:"links"`
		Templating    jsonVariables `json:"templating"`
		Rows          []jsonRow     `json:"rows"`
	}
	jsonRange struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	jsonLink struct {
		Title       string `json:"title"`
		Type        string `json:"type"`
		URL         string `json:"url"`
		TargetBlank bool   `json:"targetBlank"`
	}
	jsonVariables struct {
		List []jsonVariable `json:"list"`
	}
	jsonVariable struct {
		Name       string   `json:"name"`
		Label      string   `json:"label"`
		Type       string   `json:"type"`
		Datasource string   `json:"datasource,omitempty"`
		Query      string   `json:"query"`
		Definition string   `json:"definition,omitempty"`
		Regex      string   `json:"regex"`
		Refresh    int      `json:"refresh"`
		Sort       int      `json:"sort"`
		Hide       int      `json:"hide"`
		IncludeAll bool     `json:"includeAll"`
		AllValue   string   `json:"allValue,omitempty"`
		Multi      bool     `json:"multi"`
		Current    struct{} `json:"current"`
		Options    []string `json:"options"`
	}
	jsonRow struct {
		Title     string      `json:"title"`
		ShowTitle bool        `json:"showTitle"`
		Collapse  bool        `json:"collapse"`
		Height    string      `json:"height"`
		Panels    []jsonPanel `json:"panels"`
	}
	jsonPanel struct {
		ID          int          `json:"id"`
		Type        string       `json:"type"`
		Title       string       `json:"title"`
		Description string       `json:"description"`
		Datasource  string       `json:"datasource"`
		Span        int          `json:"span"`
		Targets     []jsonTarget `json:"targets"`
		// singlestat
		Format    string `json:"format,omitempty"`
		ValueName string `json:"valueName,omitempty"`
		// graph
		Lines     bool         `json:"lines,omitempty"`
		Fill      int          `json:"fill,omitempty"`
		Linewidth int          `json:"linewidth,omitempty"`
		Legend    *jsonLegend  `json:"legend,omitempty"`
		Tooltip   *jsonTooltip `json:"tooltip,omitempty"`
		Yaxes     []jsonAxis   `json:"yaxes,omitempty"`
		Xaxis     *jsonXAxis   `json:"xaxis,omitempty"`
	}
	jsonTarget struct {
		Expr           string `json:"expr"`
		LegendFormat   string `json:"legendFormat"`
		RefID          string `json:"refId"`
		Format         string `json:"format"`
		IntervalFactor int    `json:"intervalFactor"`
	}
	jsonLegend struct {
		Show   bool `json:"show"`
		Values bool `json:"values"`
	}
	jsonTooltip struct {
		Shared    bool   `json:"shared"`
		Sort      int    `json:"sort"`
		ValueType string `json:"value_type"`
	}
	jsonAxis struct {
		Format string `json:"format"`
		Min    *int   `json:"min"`
		Show   bool   `json:"show"`
	}
	jsonXAxis struct {
		Mode string `json:"mode"`
		Show bool   `json:"show"`
	}
)

// dashboard returns the dashboard as Grafana's JSON model.
func dashboard() jsonDashboard {
	const datasource = "$datasource"
	zero := 0
	id := 0
	jsonRows := make([]jsonRow, 0, len(rows))
	for _, r := range rows {
		span := max(12/len(r.panels), 2)
		panels := make([]jsonPanel, 0, len(r.panels))
		for _, p := range r.panels {
			id++
			jp := jsonPanel{ID: id, Type: p.kind, Title: p.title, Description: p.desc, Datasource: datasource, Span: span}
			for i, t := range p.targets {
				jp.Targets = append(jp.Targets, jsonTarget{
					Expr: t.expr, LegendFormat: t.legend, RefID: string(rune('A' + i)),
					Format: "time_series", IntervalFactor: 1,
				})
			}
			switch p.kind {
			case kindStat:
				jp.Format, jp.ValueName = p.unit, "current"
			case kindGraph:
				jp.Lines, jp.Fill, jp.Linewidth = true, 1, 1
				jp.Legend = &jsonLegend{Show: true}
				jp.Tooltip = &jsonTooltip{Shared: true, ValueType: "individual"}
				jp.Yaxes = []jsonAxis{{Format: p.unit, Min: &zero, Show: true}, {Format: "short"}}
				jp.Xaxis = &jsonXAxis{Mode: "time", Show: true}
			}
			panels = append(panels, jp)
		}
		height := "250px"
		if r.panels[0].kind == kindStat {
			height = "100px"
		}
		jsonRows = append(jsonRows, jsonRow{Title: r.title, ShowTitle: true, Height: height, Panels: panels})
	}
	variable := func(name, label, query string) jsonVariable {
		return jsonVariable{
			Name: name, Label: label, Type: "query", Datasource: datasource, Query: query, Definition: query,
			Refresh: 2, Sort: 1, Options: []string{},
		}
	}
	job := variable("job", "Listeners (WolConfig)", `label_values(wol_listener_sockets{namespace="$namespace"}, job)`)
	// "All" selects every listener, not every job of the namespace.
	job.IncludeAll, job.AllValue = true, "wol-listener-.+"
	return jsonDashboard{
		UID:           "kubevirt-wol",
		Title:         "kubevirt-wol / Wake-on-LAN",
		Description:   "Magic packets, wakes and VM starts of the kubevirt-wol listeners (docs/metrics.md).",
		Tags:          []string{"kubevirt-wol", "kubevirt"},
		Editable:      true,
		SchemaVersion: 16,
		Version:       1,
		Refresh:       "1m",
		Time:          jsonRange{From: "now-6h", To: "now"},
		Links: []jsonLink{{
			Title: "Runbooks", Type: "link", TargetBlank: true,
			URL: "https://github.com/gpillon/kubevirt-wol/blob/main/docs/runbooks.md",
		}},
		Templating: jsonVariables{List: []jsonVariable{
			{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus", Refresh: 1,
				Options: []string{}},
			variable("namespace", "Namespace", "label_values(wol_listener_sockets, namespace)"),
			job,
		}},
		Rows: jsonRows,
	}
}
