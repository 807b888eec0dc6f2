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
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// repoRoot is the repository this module lives in.
var repoRoot = filepath.Join("..", "..")

// imageTar is the archive `make image` wrote (IMAGE_TAR).
func imageTar() string {
	if p := os.Getenv("IMAGE_TAR"); p != "" {
		return p
	}
	return filepath.Join(repoRoot, "bin", "kubevirt-wol-image.tar")
}

// finalStage is what the Dockerfile's last stage says of the image, with
// ARG defaults expanded as `docker build` would without --build-arg.
type finalStage struct {
	base       string
	labels     map[string]string
	env        []string
	user       string
	workdir    string
	entrypoint []string
	// files maps each path COPY puts in the image to its source in this
	// repository (the builder stage works in a copy of it).
	files map[string]string
}

// parseDockerfile reads the Dockerfile with buildkit's own parser.
func parseDockerfile(t *testing.T) finalStage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a builder and the image", len(stages))
	}
	lex := shell.NewLex(res.EscapeToken)
	workdirs := map[string]string{}
	var fs finalStage
	for i, st := range stages {
		last := i == len(stages)-1
		var args []string
		workdir := "/"
		fs = finalStage{base: st.BaseName, labels: map[string]string{}, files: map[string]string{}, workdir: "/"}
		expand := func(word string) (string, error) {
			out, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(args))
			return out, err
		}
		for _, cmd := range st.Commands {
			if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
				if err := e.Expand(expand); err != nil {
					t.Fatal(err)
				}
			}
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					if a.Value != nil {
						args = append(args, a.Key+"="+*a.Value)
					}
				}
			case *instructions.WorkdirCommand:
				workdir = path.Join(workdir, c.Path)
				fs.workdir = workdir
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					fs.labels[kv.Key] = kv.Value
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					fs.env = append(fs.env, kv.Key+"="+kv.Value)
				}
			case *instructions.UserCommand:
				fs.user = c.User
			case *instructions.EntrypointCommand:
				if c.PrependShell {
					t.Errorf("the ENTRYPOINT is in shell form; the image has no shell")
				}
				fs.entrypoint = c.CmdLine
			case *instructions.CopyCommand:
				copySources(t, c, workdirs, last, &fs)
			}
		}
		workdirs[st.Name] = workdir
	}
	return fs
}

// copySources checks that a builder stage's COPY sources exist in the
// repository, and maps the final stage's files to their sources.
func copySources(t *testing.T, c *instructions.CopyCommand, workdirs map[string]string, last bool, fs *finalStage) {
	t.Helper()
	for _, src := range c.SourcePaths {
		if c.From == "" {
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(src))); err != nil {
				t.Errorf("the Dockerfile copies %s, which the repository lacks: %v", src, err)
			}
			continue
		}
		if !last {
			continue
		}
		rel, err := filepath.Rel(workdirs[c.From], src)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("COPY --from=%s %s: not under that stage's WORKDIR %s", c.From, src, workdirs[c.From])
			continue
		}
		dest := c.DestPath
		if !path.IsAbs(dest) {
			dest = path.Join(fs.workdir, dest)
		}
		if strings.HasSuffix(c.DestPath, "/") || len(c.SourcePaths) > 1 {
			dest = path.Join(dest, path.Base(src))
		}
		fs.files[dest] = filepath.Join(repoRoot, rel)
	}
}

// TestImageMatchesDockerfile holds the archive `make image` wrote to what
// the Dockerfile's final stage declares: labels, user, working directory,
// entrypoint, environment, and the copied binaries, byte for byte the ones
// `make build-bin` wrote (the Dockerfile's builder runs that target too).
func TestImageMatchesDockerfile(t *testing.T) {
	df := parseDockerfile(t)
	img, name := readOCIArchive(t, imageTar())
	if name == "" {
		t.Errorf("the archive does not name its image (%s annotation)", containerdNameAnnotation)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Labels, df.labels) {
		t.Errorf("labels: image %v, Dockerfile %v", c.Labels, df.labels)
	}
	if c.User != df.user || c.WorkingDir != df.workdir || !slices.Equal(c.Entrypoint, df.entrypoint) {
		t.Errorf("user, workdir, entrypoint: image %q %q %q, Dockerfile %q %q %q",
			c.User, c.WorkingDir, c.Entrypoint, df.user, df.workdir, df.entrypoint)
	}
	for _, e := range df.env {
		if !slices.Contains(c.Env, e) {
			t.Errorf("the Dockerfile sets %s, the image does not (%v)", e, c.Env)
		}
	}
	if !strings.HasPrefix(df.base, "gcr.io/distroless/static") {
		t.Errorf("the Dockerfile's base is %s: check what hack/image puts in its place (Env, base files)", df.base)
	}

	want := map[string]string{ManagerPath: "", ListenerPath: ""}
	for p := range df.files {
		if _, ok := want[p]; !ok {
			t.Errorf("the Dockerfile copies %s, hack/image does not", p)
		}
	}
	files := extract(t, img)
	for p := range want {
		src, ok := df.files[p]
		if !ok {
			t.Errorf("hack/image puts %s in the image, the Dockerfile does not", p)
			continue
		}
		f, ok := files[p]
		if !ok {
			t.Errorf("the image lacks %s", p)
			continue
		}
		if f.hdr.Mode&0o755 != 0o755 || f.hdr.Uid != 0 {
			t.Errorf("%s: mode %o, uid %d; want executable by all, owned by root as COPY leaves it", p, f.hdr.Mode, f.hdr.Uid)
		}
		built, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("%v (run `make image`, which runs `make build-bin`)", err)
		}
		if !bytes.Equal(f.data, built) {
			t.Errorf("%s in the image is not %s", p, src)
		}
	}
}
