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
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImageBinariesRun takes /manager and /listener out of the archive
// `make image` wrote and runs them with --help: they are real programs,
// statically linked (no ELF interpreter: the image has no libc), that start
// and list the flags their pod specs pass.
func TestImageBinariesRun(t *testing.T) {
	img, _ := readOCIArchive(t, imageTar())
	files := extract(t, img)
	dir := t.TempDir()
	for p, flag := range map[string]string{ManagerPath: "-listener-image", ListenerPath: "-wolconfig"} {
		f, ok := files[p]
		if !ok {
			t.Errorf("the image lacks %s", p)
			continue
		}
		bin := filepath.Join(dir, filepath.Base(p))
		if err := os.WriteFile(bin, f.data, os.FileMode(f.hdr.Mode).Perm()); err != nil {
			t.Fatal(err)
		}
		exe, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s is not an ELF program: %v", p, err)
		}
		for _, prog := range exe.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked; the image has no loader or libc", p)
			}
		}
		_ = exe.Close()

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s --help: %v\n%s", p, err, out)
			continue
		}
		if !strings.Contains(string(out), flag) {
			t.Errorf("%s --help does not list %s:\n%s", p, flag, out)
		}
	}
}
