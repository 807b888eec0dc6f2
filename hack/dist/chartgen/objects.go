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

func subjects(o object) []object {
	list, _ := o["subjects"].([]any)
	var out []object
	for _, s := range list {
		if so, ok := s.(object); ok {
			out = append(out, so)
		}
	}
	return out
}

func kind(o object) string { s, _ := o["kind"].(string); return s }

func name(o object) string { s, _ := dig(o, "metadata")["name"].(string); return s }

// dig returns the map at path, creating the maps that are missing.
func dig(o object, path ...string) object {
	cur := o
	for _, k := range path {
		next, ok := cur[k].(object)
		if !ok {
			next = object{}
			cur[k] = next
		}
		cur = next
	}
	return cur
}

func labels(o object) object      { return dig(o, "metadata", "labels") }
func annotations(o object) object { return dig(o, "metadata", "annotations") }

func orEmpty(v any) any {
	if v == nil {
		return object{}
	}
	return v
}
