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
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildsWhatCIBuilds checks, without Docker, that the image is
// built by the Make target CI uses, for the platform buildx asks for, from
// every folder the two programs' packages live in.
func TestDockerfileBuildsWhatCIBuilds(t *testing.T) {
	dockerfile := string(readFile(t, "Dockerfile"))
	makefile := string(readFile(t, "Makefile"))
	for _, want := range []string{"ARG TARGETOS", "ARG TARGETARCH", "make build-bin GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH}",
		"org.opencontainers.image.source", "COPY --from=builder /workspace/bin/manager /workspace/bin/listener /", "USER 65532:65532",
		"ARG VERSION=" + version + "\n"} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	if len(regexp.MustCompile(`(?m)^FROM `).FindAllString(dockerfile, -1)) < 2 {
		t.Error("the Dockerfile is not multi-stage")
	}
	recipe := regexp.MustCompile(`(?ms)^build-bin:.*?\n\n`).FindString(makefile)
	if strings.Count(recipe, "CGO_ENABLED=0") != 2 || !strings.Contains(recipe, "./cmd/manager") || !strings.Contains(recipe, "./cmd/listener") {
		t.Errorf("make build-bin does not build both programs statically:\n%s", recipe)
	}

	// Every folder of this module that the programs import must be copied
	// into the build stage, and not be excluded by .dockerignore.
	r := mustExe(t, nil, "go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{end}}{{end}}", "./cmd/manager", "./cmd/listener")
	const module = "github.com/gpillon/kubevirt-wol/"
	dirs := map[string]bool{}
	for _, pkg := range strings.Fields(r.stdout) {
		top, _, _ := strings.Cut(strings.TrimPrefix(pkg, module), "/")
		dirs[top] = true
	}
	ignore := string(readFile(t, ".dockerignore"))
	for dir := range dirs {
		if !strings.Contains(dockerfile, "COPY "+dir+"/ "+dir+"/") {
			t.Errorf("the programs import packages under %s/, which the Dockerfile does not copy", dir)
		}
		if regexp.MustCompile(`(?m)^/?` + regexp.QuoteMeta(dir) + `/?$`).MatchString(ignore) {
			t.Errorf(".dockerignore excludes %s/, which the programs need", dir)
		}
	}
}
