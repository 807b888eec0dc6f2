//go:build distribution

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

package distribution

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// rawCatalog is a rendered catalog kept whole: packages, channels and
// bundles as opm printed them.
type rawCatalog struct {
	packages, channels []map[string]any
	bundles            map[string]rawBundle
}

type rawBundle struct {
	Name          string           `json:"name"`
	Image         string           `json:"image"`
	RelatedImages []map[string]any `json:"relatedImages"`
	Properties    []struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

func renderRaw(t *testing.T, dir string) rawCatalog {
	t.Helper()
	r := mustExe(t, nil, tool(t, "opm"), "render", dir, "--output", "json")
	out := rawCatalog{bundles: map[string]rawBundle{}}
	dec := json.NewDecoder(bytes.NewReader([]byte(r.stdout)))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		switch m["schema"] {
		case "olm.package":
			out.packages = append(out.packages, m)
		case "olm.channel":
			out.channels = append(out.channels, m)
		case "olm.bundle":
			var b rawBundle
			if err := json.Unmarshal(raw, &b); err != nil {
				t.Fatal(err)
			}
			out.bundles[b.Name] = b
		}
	}
}

// TestTestCatalogMatchesShipped renders the catalog test/install serves to
// a real OLM (`make catalog-add CATALOG_RENDER_FLAGS=`: bundle/ with its
// manifests inline, no image) and checks that it describes the same bundle
// as the shipped catalog/ (bundle images, olm.csv.metadata): the same
// package and channel entries (replaces, skipRange), the same properties
// (package version, the CRD's GVK), the CSV's metadata, the CRDs and the
// related images. So the path OLM is tested on and the one users get
// cannot drift apart.
func TestTestCatalogMatchesShipped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "catalog")
	mustExe(t, nil, "make", "--no-print-directory", "-s", "catalog-add", "CATALOG_RENDER_FLAGS=", "CATALOG_DIR="+dir)
	test, shipped := renderRaw(t, dir), renderRaw(t, "catalog")
	if !reflect.DeepEqual(test.packages, shipped.packages) {
		t.Errorf("packages differ:\ntest:    %v\nshipped: %v", test.packages, shipped.packages)
	}
	if !reflect.DeepEqual(test.channels, shipped.channels) {
		t.Errorf("channels differ:\ntest:    %v\nshipped: %v", test.channels, shipped.channels)
	}
	current := packageName + ".v" + version
	tb, ok := test.bundles[current]
	sb, ok2 := shipped.bundles[current]
	if !ok || !ok2 || len(test.bundles) != 1 {
		t.Fatalf("want the bundle %s in both catalogs (and only it in the test one); test has %d bundles, shipped has it: %v", current, len(test.bundles), ok2)
	}
	if tb.Image != "" {
		t.Errorf("the test catalog's bundle has image %q, want none (manifests inline)", tb.Image)
	}

	// Every property but the CSV's form is the same.
	props := func(b rawBundle, skip string) map[string][]string {
		out := map[string][]string{}
		for _, p := range b.Properties {
			if p.Type != skip {
				out[p.Type] = append(out[p.Type], string(p.Value))
			}
		}
		return out
	}
	if tp, sp := props(tb, "olm.bundle.object"), props(sb, "olm.csv.metadata"); !reflect.DeepEqual(tp, sp) {
		t.Errorf("bundle properties differ:\ntest:    %v\nshipped: %v", tp, sp)
	}

	// The inline objects are bundle/manifests, and the shipped
	// olm.csv.metadata is that CSV's metadata.
	checkCSVMetadata(t, inlineObjectsAreBundle(t, tb), sb)

	// Related images: the shipped catalog adds the bundle image itself.
	shippedImages := slices.DeleteFunc(slices.Clone(sb.RelatedImages), func(m map[string]any) bool { return m["image"] == sb.Image })
	if !reflect.DeepEqual(tb.RelatedImages, shippedImages) {
		t.Errorf("related images differ:\ntest:    %v\nshipped: %v", tb.RelatedImages, shippedImages)
	}
}

// inlineObjectsAreBundle checks that the olm.bundle.object properties of b
// are exactly the files of bundle/manifests, and returns the CSV.
func inlineObjectsAreBundle(t *testing.T, tb rawBundle) map[string]any {
	t.Helper()
	inline := map[string]map[string]any{}
	for _, p := range tb.Properties {
		if p.Type != "olm.bundle.object" {
			continue
		}
		var v struct{ Data string }
		if err := json.Unmarshal(p.Value, &v); err != nil {
			t.Fatal(err)
		}
		data, err := base64.StdEncoding.DecodeString(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := json.Unmarshal(data, &o); err != nil {
			t.Fatal(err)
		}
		inline[key(&unstructured.Unstructured{Object: o})] = o
	}
	files, err := filepath.Glob(filepath.Join(root, "bundle", "manifests", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("bundle/manifests: %v", err)
	}
	var csv map[string]any
	for _, f := range files {
		o := map[string]any{}
		if err := yaml.Unmarshal(readFile(t, filepath.Join("bundle", "manifests", filepath.Base(f))), &o); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: o}
		if !reflect.DeepEqual(inline[key(u)], o) {
			t.Errorf("%s: the test catalog's inline object differs from %s", key(u), filepath.Base(f))
		}
		delete(inline, key(u))
		if u.GetKind() == "ClusterServiceVersion" {
			csv = o
		}
	}
	for k := range inline {
		t.Errorf("the test catalog has %s, which bundle/manifests does not", k)
	}
	if csv == nil {
		t.Fatal("no CSV in bundle/manifests")
	}
	return csv
}

// checkCSVMetadata checks that the shipped bundle's olm.csv.metadata is the
// metadata of csv.
func checkCSVMetadata(t *testing.T, csv map[string]any, sb rawBundle) {
	t.Helper()
	var csvMeta map[string]any
	for _, p := range sb.Properties {
		if p.Type == "olm.csv.metadata" {
			if err := json.Unmarshal(p.Value, &csvMeta); err != nil {
				t.Fatal(err)
			}
		}
	}
	if csvMeta == nil {
		t.Fatal("no olm.csv.metadata in the shipped catalog")
	}
	spec, _ := csv["spec"].(map[string]any)
	metadata, _ := csv["metadata"].(map[string]any)
	// olm.csv.metadata's names for the CSV's fields that it renames.
	renamed := map[string]string{"crdDescriptions": "customresourcedefinitions", "apiServiceDefinitions": "apiservicedefinitions"}
	for k, want := range csvMeta {
		got := spec[k]
		if r, ok := renamed[k]; ok {
			got = spec[r]
		}
		if k == "annotations" || k == "labels" {
			got = metadata[k]
		}
		if m, ok := want.(map[string]any); ok && len(m) == 0 && got == nil {
			continue // an empty object stands for an absent field
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("olm.csv.metadata %s in the shipped catalog differs from the CSV's:\nCSV:     %v\ncatalog: %v", k, got, want)
		}
	}
}
