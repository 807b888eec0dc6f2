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

package promreg_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gpillon/kubevirt-wol/pkg/promreg"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "wol_test_total", Help: "A test counter."})
	}
	first, err := promreg.Register(reg, newCounter())
	if err != nil {
		t.Fatal(err)
	}
	first.Inc()

	// A second instance gets the first collector: both count into one series.
	second, err := promreg.Register(reg, newCounter())
	if err != nil {
		t.Fatal(err)
	}
	second.Inc()
	var m dto.Metric
	if err := first.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Errorf("wol_test_total = %v, want 2 (both instances count into the registered series)", got)
	}

	// The same name with another type or help is a real clash.
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "wol_test_total", Help: "Another meaning."})
	if _, err := promreg.Register(reg, clash); err == nil {
		t.Error("a gauge registered under a counter's name was accepted")
	}
}
