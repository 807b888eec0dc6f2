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

// Package metrictest reads metrics in tests, one way for every suite: from
// a registry (Value) or from a scraped text exposition (TextValue), as the
// sum of the samples of one family whose labels include the given pairs;
// Get scrapes an endpoint as Prometheus would, with a bearer token.
package metrictest

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Get fetches url with c as a scraper holding token would (no
// Authorization header if token is ""), and returns the status code and
// the body.
func Get(c *http.Client, url, token string) (code int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// Value sums the samples (counter, gauge or untyped) of family name in g
// whose labels include labels ("name", "value", …). A family that is not
// there sums to 0. It panics on an odd number of label strings or a
// failing Gather, which only a broken test can cause.
func Value(g prometheus.Gatherer, name string, labels ...string) float64 {
	families, err := g.Gather()
	if err != nil {
		panic(fmt.Sprintf("metrictest: gathering: %v", err))
	}
	return sum(families, name, labels)
}

// TextValue is Value for a text exposition (the body of a /metrics scrape).
func TextValue(body, name string, labels ...string) float64 {
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		panic(fmt.Sprintf("metrictest: parsing the exposition: %v", err))
	}
	families := make([]*dto.MetricFamily, 0, len(parsed))
	for _, f := range parsed {
		families = append(families, f)
	}
	return sum(families, name, labels)
}

func sum(families []*dto.MetricFamily, name string, labels []string) float64 {
	if len(labels)%2 != 0 {
		panic("metrictest: labels must be name, value pairs")
	}
	var total float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if has(m, labels) {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return total
}

func has(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Dump renders every series of the families in g whose name starts with
// prefix, one per line, for failure messages.
func Dump(g prometheus.Gatherer, prefix string) string {
	families, err := g.Gather()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			fmt.Fprintf(&b, "%s%s %v\n", f.GetName(), labelString(m), m.GetCounter().GetValue()+m.GetGauge().GetValue()+m.GetUntyped().GetValue())
		}
	}
	return b.String()
}

func labelString(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
