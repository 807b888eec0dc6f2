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
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The sandbox image holds the pause program alone, as its entrypoint, run
// as registry.k8s.io/pause's user; it reads back from its OCI archive under
// the name containerd's sandbox_image setting uses.
func TestPauseImage(t *testing.T) {
	dir := t.TempDir()
	pause := filepath.Join(dir, "pause")
	program := []byte("\x7fELF pause stand-in")
	if err := os.WriteFile(pause, program, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := BuildPause(pause, "linux", "amd64", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pause.tar")
	const ref = "registry.k8s.io/pause:test"
	if err := WriteArchive(out, FormatOCI, ref, img); err != nil {
		t.Fatal(err)
	}
	back, name := readOCIArchive(t, out)
	if name != ref {
		t.Errorf("archive names the image %q, want %q", name, ref)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{PausePath}) || cf.Config.User != "65535:65535" || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config: entrypoint %q, user %q, platform %s/%s", cf.Config.Entrypoint, cf.Config.User, cf.OS, cf.Architecture)
	}
	files := extract(t, back)
	if len(files) != 1 {
		t.Errorf("the image holds %d files, want only %s", len(files), PausePath)
	}
	f, ok := files[PausePath]
	if !ok || !bytes.Equal(f.data, program) || f.hdr.Mode&0o111 == 0 {
		t.Errorf("%s: present %t, same bytes %t, executable %t", PausePath, ok, bytes.Equal(f.data, program), ok && f.hdr.Mode&0o111 != 0)
	}
}
