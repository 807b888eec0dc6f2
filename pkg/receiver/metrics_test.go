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

package receiver

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newRecorderFunc() WakeHandler {
	return WakeHandlerFunc(func(context.Context, Wake) error { return nil })
}

// Every series exists from the start with a bounded set of label values,
// and every metric is documented in docs/metrics.md.
func TestMetricsRegisteredAndDocumented(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Ports: []uint16{9}}, newRecorderFunc(), reg); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{
		"protocol": {"udp4", "udp6", "raw"},
		"result":   resultNames[:],
		"reason": {"too_short", "no_sync", "mismatch", "bad_target", "not_wol_ethertype", "duplicate",
			"rate_limit_source", "rate_limit_global", "queue_full", "interface", "source"},
		"stage": stageNames[:],
	}
	wantSeries := map[string]int{
		"wol_packets_total": 3 * 7, "wol_dropped_packets_total": 3 * 11, "wol_errors_total": 3,
		"wol_listener_sockets": 3, "wol_wake_queue_length": 1,
	}
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatalf("reading docs/metrics.md: %v", err)
	}
	for _, f := range families {
		name := f.GetName()
		if got, ok := wantSeries[name]; !ok || got != len(f.GetMetric()) {
			t.Errorf("%s: %d series, want %d", name, len(f.GetMetric()), wantSeries[name])
		}
		delete(wantSeries, name)
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not documented in docs/metrics.md", name)
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !slices.Contains(allowed[lp.GetName()], lp.GetValue()) {
					t.Errorf("%s: unexpected label %s=%q", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	if len(wantSeries) != 0 {
		t.Errorf("metrics not registered: %v", wantSeries)
	}
}

// A second listener on the same registry (a restart after a configuration
// change) reuses the collectors instead of failing.
func TestMetricsReuseRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	l1, err := New(Config{Ports: []uint16{9}}, newRecorderFunc(), reg)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := New(Config{Ports: []uint16{7}}, newRecorderFunc(), reg)
	if err != nil {
		t.Fatalf("second listener on the same registry: %v", err)
	}
	l1.metrics.packets[ProtocolUDP4][resultAccepted].Inc()
	if got := testutil.ToFloat64(l2.metrics.packets[ProtocolUDP4][resultAccepted]); got != 1 {
		t.Fatalf("collectors not shared: %v", got)
	}

	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "wol_errors_total", Help: "other"}))
	if _, err := New(Config{Ports: []uint16{9}}, newRecorderFunc(), clash); err == nil {
		t.Fatal("New ignored a conflicting metric")
	}
}

// Handler errors and panics are counted and do not stop the worker.
func TestHandlerErrorsCounted(t *testing.T) {
	calls := 0
	l, err := New(Config{Ports: []uint16{9}}, WakeHandlerFunc(func(context.Context, Wake) error {
		calls++
		if calls == 1 {
			return errors.New("boom")
		}
		panic("handler bug")
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.handle(context.Background(), Wake{})
	l.handle(context.Background(), Wake{})
	if got := testutil.ToFloat64(l.metrics.errors[stageHandler]); got != 2 {
		t.Fatalf("wol_errors_total{stage=handler} = %v, want 2", got)
	}
}

func TestProtocolString(t *testing.T) {
	for p, want := range map[Protocol]string{ProtocolUDP4: "udp4", ProtocolUDP6: "udp6", ProtocolRaw: "raw", 0: "unknown", 9: "unknown"} {
		if p.String() != want {
			t.Errorf("Protocol(%d).String() = %q, want %q", p, p.String(), want)
		}
	}
}
