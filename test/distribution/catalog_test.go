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
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// fbc is the part of a rendered file-based catalog the tests look at.
type fbc struct {
	packages []map[string]any
	channels []fbcChannel
	bundles  []fbcBundle
}

type fbcChannel struct {
	Package string `json:"package"`
	Name    string `json:"name"`
	Entries []struct {
		Name      string   `json:"name"`
		Replaces  string   `json:"replaces"`
		Skips     []string `json:"skips"`
		SkipRange string   `json:"skipRange"`
	} `json:"entries"`
}

type fbcBundle struct {
	Name       string `json:"name"`
	Package    string `json:"package"`
	Image      string `json:"image"`
	Properties []struct {
		Type string `json:"type"`
	} `json:"properties"`
}

// renderCatalog validates a catalog folder with opm and renders it.
func renderCatalog(t *testing.T, dir string) fbc {
	t.Helper()
	opm := tool(t, "opm")
	mustExe(t, nil, opm, "validate", dir)
	r := mustExe(t, nil, opm, "render", dir, "--output", "json")
	var out fbc
	dec := json.NewDecoder(bytes.NewReader([]byte(r.stdout)))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Schema string `json:"schema"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		var err error
		switch meta.Schema {
		case "olm.package":
			var p map[string]any
			err = json.Unmarshal(raw, &p)
			out.packages = append(out.packages, p)
		case "olm.channel":
			var c fbcChannel
			err = json.Unmarshal(raw, &c)
			out.channels = append(out.channels, c)
		case "olm.bundle":
			var b fbcBundle
			err = json.Unmarshal(raw, &b)
			out.bundles = append(out.bundles, b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// heads are the entries of a channel that no other entry replaces or skips.
func (c fbcChannel) heads() []string {
	superseded := map[string]bool{}
	for _, e := range c.Entries {
		superseded[e.Replaces] = true
		for _, s := range e.Skips {
			superseded[s] = true
		}
	}
	var heads []string
	for _, e := range c.Entries {
		if !superseded[e.Name] {
			heads = append(heads, e.Name)
		}
	}
	return heads
}

func TestCatalog(t *testing.T) {
	cat := renderCatalog(t, "catalog")
	if len(cat.packages) != 1 || cat.packages[0]["name"] != packageName || cat.packages[0]["defaultChannel"] != "stable" {
		t.Fatalf("want one package %s with default channel stable, got %v", packageName, cat.packages)
	}
	if len(cat.channels) != 1 || cat.channels[0].Name != "stable" {
		t.Fatalf("want one channel, stable, got %+v", cat.channels)
	}
	current := packageName + ".v" + version
	if heads := cat.channels[0].heads(); len(heads) != 1 || heads[0] != current {
		t.Errorf("channel heads = %v, want [%s]", heads, current)
	}
	// The head already has the shape every release gives it: it skips every
	// older version (and replaces the previous head, when there is one).
	for i, e := range cat.channels[0].Entries {
		if e.Name == current && (e.SkipRange != "<"+version || (i > 0) != (e.Replaces != "")) {
			t.Errorf("the head %s has skipRange %q and replaces %q, want <%s and the previous entry", e.Name, e.SkipRange, e.Replaces, version)
		}
	}
	for _, b := range cat.bundles {
		if b.Name == current && b.Image != bundleImage {
			t.Errorf("bundle %s has image %q, want %q", b.Name, b.Image, bundleImage)
		}
		for _, p := range b.Properties {
			if p.Type == "olm.bundle.object" {
				t.Errorf("bundle %s carries olm.bundle.object; OpenShift 4.17+ catalogs need olm.csv.metadata", b.Name)
			}
		}
	}
}

// TestCatalogNextRelease runs the release step for a hypothetical next
// version (the next minor) on copies of the bundle and catalog (make catalog
// VERSION=<next> BUNDLE_DIR=... CATALOG_DIR=...) and checks that opm accepts the result,
// with the new version as the single channel head replacing the current one
// and skipping every older version, and that the work tree is untouched.
func TestCatalogNextRelease(t *testing.T) {
	v, err := utilversion.ParseSemantic(version)
	if err != nil {
		t.Fatal(err)
	}
	next := fmt.Sprintf("%d.%d.0", v.Major(), v.Minor()+1)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to run the release step: %v", err)
	}
	before := treeHash(t, "bundle", "catalog", "config", "bundle.Dockerfile", "catalog.Dockerfile")
	tmp := t.TempDir()
	if err := os.CopyFS(filepath.Join(tmp, "catalog"), os.DirFS(filepath.Join(root, "catalog"))); err != nil {
		t.Fatal(err)
	}
	mustExe(t, nil, "make", "--no-print-directory", "-s", "catalog",
		"VERSION="+next, "BUNDLE_DIR="+filepath.Join(tmp, "bundle"), "CATALOG_DIR="+filepath.Join(tmp, "catalog"))

	cat := renderCatalog(t, filepath.Join(tmp, "catalog"))
	if len(cat.channels) != 1 {
		t.Fatalf("want one channel, got %d", len(cat.channels))
	}
	ch := cat.channels[0]
	head := packageName + ".v" + next
	if heads := ch.heads(); len(heads) != 1 || heads[0] != head {
		t.Fatalf("channel heads = %v, want [%s]", heads, head)
	}
	var found bool
	for _, e := range ch.Entries {
		if e.Name == head {
			found = true
			if e.Replaces != packageName+".v"+version || e.SkipRange != "<"+next {
				t.Errorf("the new head replaces %q with skipRange %q, want %s.v%s and <%s", e.Replaces, e.SkipRange, packageName, version, next)
			}
		}
	}
	if !found {
		t.Fatalf("no entry %s", head)
	}
	images := map[string]string{}
	for _, b := range cat.bundles {
		images[b.Name] = b.Image
	}
	if want := imageBase + "-bundle:v" + next; images[head] != want {
		t.Errorf("the new bundle's image is %q, want %q", images[head], want)
	}
	if images[packageName+".v"+version] != bundleImage {
		t.Errorf("the released bundle's image changed to %q", images[packageName+".v"+version])
	}
	if after := treeHash(t, "bundle", "catalog", "config", "bundle.Dockerfile", "catalog.Dockerfile"); after != before {
		t.Error("the release step for another version changed the work tree (bundle/, catalog/, config/ or the Dockerfiles)")
	}
}

// treeHash hashes files and folders under the repository root.
func treeHash(t *testing.T, paths ...string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(h, "%s\x00%d\x00", path, len(data)) // a hash.Hash never fails to write
			h.Write(data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
