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

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUpToDate(t *testing.T) {
	role := func(rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: "r", Labels: map[string]string{"a": "b"}},
			Rules:      rules,
		}
	}
	get := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}
	patch := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"patch"}}
	withExtras := role(get)
	withExtras.Labels["other-owner"] = "x"
	withExtras.ResourceVersion = "7"
	for _, tc := range []struct {
		name          string
		desired, live *rbacv1.ClusterRole
		want          bool
	}{
		{"same", role(get), role(get), true},
		{"fields set by others or the server are not compared", role(get), withExtras, true},
		{"a rule added", role(get, patch), role(get), false},
		{"a rule removed (a longer live list is not up to date)", role(get), role(get, patch), false},
		{"a rule changed", role(patch), role(get), false},
		{"a verb removed from a rule", role(get), role(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}), false},
	} {
		if got := upToDate(tc.desired, tc.live); got != tc.want {
			t.Errorf("%s: upToDate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
