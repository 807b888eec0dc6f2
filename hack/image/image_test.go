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
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const testRef = "example.test/kubevirt-wol:v9.9.9"

// testOptions builds from two small files standing in for the binaries.
func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	o := Options{Manager: filepath.Join(dir, "m"), Listener: filepath.Join(dir, "l"), Version: "9.9.9", Ref: testRef, OS: "linux", Arch: "amd64"}
	for _, f := range []string{o.Manager, o.Listener} {
		if err := os.WriteFile(f, []byte("binary "+filepath.Base(f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func digest(t *testing.T, o Options) v1.Hash {
	t.Helper()
	img, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestBuildIsReproducible: equal inputs give one digest and identical
// archives; a different binary, version or time gives another digest.
func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	first := digest(t, o)
	if again := digest(t, o); again != first {
		t.Fatalf("two builds of the same inputs: %s and %s", first, again)
	}
	later := o
	later.Created = time.Unix(1700000000, 0)
	other := o
	other.Version = "9.9.10"
	changed := testOptions(t)
	if err := os.WriteFile(changed.Listener, []byte("another listener"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Options{"created": later, "version": other, "listener": changed} {
		if d := digest(t, c); d == first {
			t.Errorf("changing the %s left the digest at %s", name, d)
		}
	}

	img, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, format := range []string{FormatOCI, FormatDocker} {
		a, b := filepath.Join(dir, format+"-a.tar"), filepath.Join(dir, format+"-b.tar")
		for _, out := range []string{a, b} {
			if err := WriteArchive(out, format, testRef, img); err != nil {
				t.Fatal(err)
			}
		}
		da, _ := os.ReadFile(a)
		db, _ := os.ReadFile(b)
		if len(da) == 0 || !bytes.Equal(da, db) {
			t.Errorf("%s: two archives of one image differ (%d and %d bytes)", format, len(da), len(db))
		}
	}
}

// TestArchivesReadBack reads each archive back with go-containerregistry's
// readers and finds the image, under its name, with the same digest.
func TestArchivesReadBack(t *testing.T) {
	o := testOptions(t)
	img, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	dir := t.TempDir()

	oci := filepath.Join(dir, "oci.tar")
	if err := WriteArchive(oci, FormatOCI, testRef, img); err != nil {
		t.Fatal(err)
	}
	got, name := readOCIArchive(t, oci)
	if d, _ := got.Digest(); d != want || name != testRef {
		t.Errorf("OCI archive holds %s named %q, want %s named %q", d, name, want, testRef)
	}

	docker := filepath.Join(dir, "docker.tar")
	if err := WriteArchive(docker, FormatDocker, testRef, img); err != nil {
		t.Fatal(err)
	}
	dimg, err := tarball.ImageFromPath(docker, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A docker archive keeps the config and the layers, not the manifest.
	wantCfg, _ := img.ConfigName()
	if c, _ := dimg.ConfigName(); c != wantCfg {
		t.Errorf("docker archive holds config %s, want %s", c, wantCfg)
	}
	if err := WriteArchive(filepath.Join(dir, "x.tar"), "zip", testRef, img); err == nil {
		t.Error("an unknown format was accepted")
	}
}

// TestRunTimeFiles: the CA bundle is a set of parseable certificates, and
// the image's user is in /etc/passwd and /etc/group with its home.
func TestRunTimeFiles(t *testing.T) {
	img, err := Build(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	files := extract(t, img)
	pool, n := x509.NewCertPool(), 0
	for rest := files[CACertificatesPath].data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("certificate %d of %s: %v", n, CACertificatesPath, err)
		}
		pool.AddCert(c)
		n++
	}
	if n < 100 {
		t.Errorf("%s holds %d certificates, want the NSS roots (more than 100)", CACertificatesPath, n)
	}
	uid, gid, _ := strings.Cut(User, ":")
	if !strings.Contains(string(files["/etc/passwd"].data), ":x:"+uid+":"+gid+":nonroot:/home/nonroot:") {
		t.Errorf("/etc/passwd lacks user %s:\n%s", User, files["/etc/passwd"].data)
	}
	if !strings.Contains(string(files["/etc/group"].data), ":x:"+gid+":") {
		t.Errorf("/etc/group lacks group %s", gid)
	}
	if h := files["/home/nonroot"].hdr; h == nil || h.Typeflag != tar.TypeDir || h.Uid != 65532 {
		t.Errorf("/home/nonroot is not a directory of the nonroot user: %+v", h)
	}
	if h := files["/tmp"].hdr; h == nil || h.Typeflag != tar.TypeDir || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not a world-writable sticky directory: %+v", h)
	}
}

// entry is a file of an image's flattened file system.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// extract flattens img's layers (mutate.Extract) into a map by absolute path.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = entry{hdr: h, data: data}
	}
}

// readOCIArchive unpacks an OCI archive and returns its one image and the
// name containerd would import it under.
func readOCIArchive(t *testing.T, path string) (v1.Image, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run `make image`)", err)
	}
	defer func() { _ = f.Close() }()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, dir+string(os.PathSeparator)) {
			t.Fatalf("archive entry %q escapes the folder", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err == nil {
			err = os.WriteFile(target, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("the archive's index lists %d manifests, want 1", len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, m.Manifests[0].Annotations[containerdNameAnnotation]
}
