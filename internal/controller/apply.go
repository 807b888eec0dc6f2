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
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// applier is the operator's one write path for owned objects: server-side
// apply with the operator's field owner, forcing ownership of the fields it
// sets. It skips the request when the live object (from the cache) already
// carries every field the desired object sets, so an idle operator makes no
// API writes, while an owned object that was edited or deleted is restored.
type applier struct {
	c client.Client
}

// apply makes the live object match desired in every field desired sets. It
// reports whether it sent a request.
func (a applier) apply(ctx context.Context, desired client.Object) (bool, error) {
	live := desired.DeepCopyObject().(client.Object)
	err := a.c.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("reading %s %s: %w", kindOf(desired), desired.GetName(), err)
	case upToDate(desired, live):
		return false, nil
	}

	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return false, err
	}
	obj := &unstructured.Unstructured{Object: desiredFields(u)}
	if err := a.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return true, fmt.Errorf("applying %s %s: %w", kindOf(desired), desired.GetName(), err)
	}
	return true, nil
}

// upToDate reports whether live has every field desired sets, with the same
// value: fields desired leaves unset (defaults, other owners' fields) are
// not compared. A list desired sets must match in length too, so that an
// entry desired no longer has (a rule, a toleration) is removed.
func upToDate(desired, live client.Object) bool {
	d, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return false
	}
	l, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false
	}
	d = desiredFields(d)
	// Objects read from the cache carry no apiVersion and kind.
	delete(d, "apiVersion")
	delete(d, "kind")
	return covers(d, l)
}

// covers is equality.Semantic.DeepDerivative for unstructured objects, but
// for lists: a non-empty desired list covers only a live list of the same
// length whose elements it covers one by one (DeepDerivative accepts any
// longer list, which would keep a removed entry forever).
func covers(desired, live any) bool {
	switch d := desired.(type) {
	case nil:
		return true
	case string:
		return d == "" || d == live
	case map[string]any:
		if len(d) == 0 {
			return true
		}
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			if !covers(dv, l[k]) {
				return false
			}
		}
		return true
	case []any:
		if len(d) == 0 {
			return true
		}
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !covers(d[i], l[i]) {
				return false
			}
		}
		return true
	}
	return equality.Semantic.DeepEqual(desired, live)
}

// desiredFields drops what the converter writes for a typed object but the
// operator does not mean to own: the status and the null creationTimestamp
// of object and template metadata. Other nulls stay: some schemas (the SCC's
// priority) require the field to be present, even if null.
func desiredFields(u map[string]any) map[string]any {
	delete(u, "status")
	pruneCreationTimestamps(u)
	return u
}

func pruneCreationTimestamps(v any) {
	switch t := v.(type) {
	case map[string]any:
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		for _, e := range t {
			pruneCreationTimestamps(e)
		}
	case []any:
		for _, e := range t {
			pruneCreationTimestamps(e)
		}
	}
}

// deleteIfExists deletes obj, ignoring that it is already gone.
func (a applier) deleteIfExists(ctx context.Context, obj client.Object) (bool, error) {
	if err := a.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if err := a.c.Delete(ctx, obj, client.PropagationPolicy("Background")); err != nil {
		return true, client.IgnoreNotFound(err)
	}
	return true, nil
}

func kindOf(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", obj)
}
