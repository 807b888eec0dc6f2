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
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
)

func TestAddEntry(t *testing.T) {
	versions := map[string]*version.Version{
		"op.v0.1.0": version.MustParseSemantic("0.1.0"),
		"op.v0.2.0": version.MustParseSemantic("0.2.0"),
		"op.v0.3.0": version.MustParseSemantic("0.3.0"),
	}
	v1 := Entry{Name: "op.v0.1.0", SkipRange: "<0.1.0"}
	v2 := Entry{Name: "op.v0.2.0", Replaces: "op.v0.1.0", SkipRange: "<0.2.0"}
	v3 := Entry{Name: "op.v0.3.0", Replaces: "op.v0.2.0", SkipRange: "<0.3.0"}
	tests := []struct {
		name    string
		entries []Entry
		add     string
		want    []Entry
		wantErr bool
	}{
		{name: "first entry", add: "op.v0.1.0", want: []Entry{v1}},
		{name: "already there", entries: []Entry{v1, v2}, add: "op.v0.1.0", want: []Entry{v1, v2}},
		{name: "second", entries: []Entry{v1}, add: "op.v0.2.0", want: []Entry{v1, v2}},
		{name: "third skips every older", entries: []Entry{v1, v2}, add: "op.v0.3.0", want: []Entry{v1, v2, v3}},
		{name: "older than the head", entries: []Entry{v1, v3}, add: "op.v0.2.0", wantErr: true},
		{name: "two heads", entries: []Entry{v1, {Name: "op.v0.2.0", SkipRange: "<0.2.0"}}, add: "op.v0.3.0", wantErr: true},
		{name: "unknown version", entries: []Entry{v1}, add: "op.v9.0.0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddEntry(tt.entries, tt.add, versions)
			if (err != nil) != tt.wantErr {
				t.Fatalf("AddEntry() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AddEntry() = %+v, want %+v", got, tt.want)
			}
			if !tt.wantErr {
				wantHead := tt.want[len(tt.want)-1].Name
				if heads := Heads(got); len(heads) != 1 || heads[0] != wantHead {
					t.Errorf("Heads() = %v, want [%s]", heads, wantHead)
				}
			}
		})
	}
}
