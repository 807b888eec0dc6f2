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
	"slices"
	"testing"
)

func TestClusterRole(t *testing.T) {
	wc := defaulted("wc")
	plain := BuildClusterRole(wc, testParams)
	openshift := BuildClusterRole(wc, Params{Namespace: "ns", OpenShift: true})
	var sawWolConfigs bool
	for _, r := range plain.Rules {
		if slices.Contains(r.Resources, "securitycontextconstraints") {
			t.Errorf("SCC rule without OpenShift: %+v", r)
		}
		if slices.Contains(r.Resources, "wolconfigs") {
			sawWolConfigs = true
			if !slices.Equal(r.ResourceNames, []string{"wc"}) {
				t.Errorf("wolconfigs rule not narrowed to the WolConfig: %+v", r)
			}
		}
		for _, v := range r.Verbs {
			if v == "*" || v == "delete" || v == "create" && !slices.Contains(r.Resources, "events") &&
				!slices.Contains(r.Resources, "tokenreviews") && !slices.Contains(r.Resources, "subjectaccessreviews") {
				t.Errorf("listener rule too broad: %+v", r)
			}
		}
	}
	if !sawWolConfigs {
		t.Error("listener cannot read its WolConfig")
	}
	last := openshift.Rules[len(openshift.Rules)-1]
	if !slices.Equal(last.Verbs, []string{"use"}) || !slices.Equal(last.ResourceNames, []string{"kubevirt-wol-listener-wc"}) {
		t.Errorf("SCC rule %+v", last)
	}
}
