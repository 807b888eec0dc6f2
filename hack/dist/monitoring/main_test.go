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

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const root = "../../.."

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFilesAreGenerated: what is committed is what the generator writes
// (hack/verify.sh checks it too, after regenerating).
func TestFilesAreGenerated(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		if !bytes.Equal(read(t, path), want) {
			t.Errorf("%s is stale: run make generated", path)
		}
	}
}

// TestConfigMapHoldsTheDashboard: the OpenShift console's ConfigMap holds
// exactly the JSON of grafana-dashboard.json, in the namespace and with the
// label the console looks for.
func TestConfigMapHoldsTheDashboard(t *testing.T) {
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(read(t, configMapFile), cm); err != nil {
		t.Fatal(err)
	}
	if cm.Namespace != "openshift-config-managed" || cm.Labels["console.openshift.io/dashboard"] != "true" {
		t.Errorf("the ConfigMap is %s/%s with labels %v: the console reads openshift-config-managed, "+
			"console.openshift.io/dashboard=true", cm.Namespace, cm.Name, cm.Labels)
	}
	if len(cm.Data) != 1 {
		t.Fatalf("the ConfigMap has %d keys, want one (the dashboard)", len(cm.Data))
	}
	if got := cm.Data[configMapKey]; got != string(read(t, dashboardFile)) {
		t.Errorf("the ConfigMap's %s differs from %s", configMapKey, dashboardFile)
	}
}

// TestDashboardQueries: every panel selects the listeners by the
// dashboard's variables and reads only metrics docs/metrics.md lists (or
// up), with the windows the dashboard documents; the variables exist.
func TestDashboardQueries(t *testing.T) {
	var board struct {
		Templating struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
		Rows []struct {
			Panels []struct {
				Title      string `json:"title"`
				Datasource string `json:"datasource"`
				Targets    []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(read(t, dashboardFile), &board); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, v := range board.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["namespace"] != "query" || vars["job"] != "query" {
		t.Errorf("variables %v: want datasource (datasource), namespace and job (query)", vars)
	}
	doc := string(read(t, "docs/metrics.md"))
	metric := regexp.MustCompile(`\b([a-z_:]+)\{`)
	window := regexp.MustCompile(`\[([^\]]+)\]`)
	queries := 0
	for _, r := range board.Rows {
		for _, p := range r.Panels {
			if p.Datasource != "$datasource" {
				t.Errorf("%s: datasource %q, want $datasource", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", p.Title)
			}
			for _, target := range p.Targets {
				queries++
				selectors := metric.FindAllStringSubmatch(target.Expr, -1)
				if len(selectors) == 0 || strings.Count(target.Expr, "{") != len(selectors) {
					t.Errorf("%s: %s: every series selector names a metric", p.Title, target.Expr)
				}
				for _, m := range selectors {
					if m[1] != "up" && !strings.Contains(doc, "`"+m[1]+"`") {
						t.Errorf("%s: %s reads %s, which docs/metrics.md does not list", p.Title, target.Expr, m[1])
					}
				}
				if n := strings.Count(target.Expr, "{"+sel); n != len(selectors) {
					t.Errorf("%s: %s: every selector starts with %s", p.Title, target.Expr, sel)
				}
				for _, w := range window.FindAllStringSubmatch(target.Expr, -1) {
					if w[1] != "5m" && w[1] != "24h" {
						t.Errorf("%s: %s: window [%s], the dashboard uses [5m] and [24h]", p.Title, target.Expr, w[1])
					}
				}
			}
		}
	}
	if queries != len(Queries()) {
		t.Errorf("the JSON has %d queries, Queries() %d", queries, len(Queries()))
	}
}
