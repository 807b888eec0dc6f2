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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

func TestFindPortConflict(t *testing.T) {
	at := func(sec int64) metav1.Time { return metav1.Unix(sec, 0) }
	wc := func(name string, created int64, mutate func(*wolv1beta1.WolConfig)) wolv1beta1.WolConfig {
		w := defaulted(name)
		w.CreationTimestamp = at(created)
		if mutate != nil {
			mutate(w)
		}
		return *w
	}
	ports := func(p ...int32) func(*wolv1beta1.WolConfig) {
		return func(w *wolv1beta1.WolConfig) { w.Spec.WolPorts = p }
	}
	cases := []struct {
		name     string
		all      []wolv1beta1.WolConfig
		ask      string
		wantWith string
		wantPort int32
	}{
		{"alone", []wolv1beta1.WolConfig{wc("a", 1, nil)}, "a", "", 0},
		{"newer loses the UDP port", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, nil)}, "b", "a", 9},
		{"older keeps it", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, nil)}, "a", "", 0},
		{"same age: name decides", []wolv1beta1.WolConfig{wc("b", 1, nil), wc("a", 1, nil)}, "b", "a", 9},
		{"different UDP ports, same metrics port", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, ports(7))}, "b", "a", 9847},
		{"different ports", []wolv1beta1.WolConfig{wc("a", 1, nil), wc("b", 2, func(w *wolv1beta1.WolConfig) {
			w.Spec.WolPorts = []int32{7}
			w.Spec.Listener.MetricsPort = ptr.To[int32](9848)
		})}, "b", "", 0},
		{"disjoint node selectors", []wolv1beta1.WolConfig{
			wc("a", 1, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "one"} }),
			wc("b", 2, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "two"} }),
		}, "b", "", 0},
		{"overlapping node selectors", []wolv1beta1.WolConfig{
			wc("a", 1, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"lan": "one"} }),
			wc("b", 2, func(w *wolv1beta1.WolConfig) { w.Spec.Listener.NodeSelector = map[string]string{"zone": "x"} }),
		}, "b", "a", 9},
		{"a loser does not block a third", []wolv1beta1.WolConfig{
			wc("a", 1, ports(9)),
			wc("b", 2, func(w *wolv1beta1.WolConfig) {
				w.Spec.WolPorts = []int32{9, 7}
				w.Spec.Listener.MetricsPort = ptr.To[int32](1)
			}),
			wc("c", 3, func(w *wolv1beta1.WolConfig) {
				w.Spec.WolPorts = []int32{7}
				w.Spec.Listener.MetricsPort = ptr.To[int32](2)
			}),
		}, "c", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var me *wolv1beta1.WolConfig
			for i := range tc.all {
				if tc.all[i].Name == tc.ask {
					me = &tc.all[i]
				}
			}
			c, ok := FindPortConflict(me, tc.all)
			if ok != (tc.wantWith != "") || c.With != tc.wantWith || c.Port != tc.wantPort {
				t.Errorf("got %+v, %v; want conflict with %q on %d", c, ok, tc.wantWith, tc.wantPort)
			}
		})
	}
}
