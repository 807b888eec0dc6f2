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
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the Dockerfile's final stage declares; dockerfile_test.go holds the
// two together.
const (
	// User is the Dockerfile's USER (distroless's nonroot user and group).
	User = "65532:65532"
	// WorkingDir is the Dockerfile's WORKDIR.
	WorkingDir = "/"
	// ManagerPath and ListenerPath are where the Dockerfile's COPY puts the
	// two binaries.
	ManagerPath  = "/manager"
	ListenerPath = "/listener"
	// versionLabel is the label set from the Dockerfile's ARG VERSION.
	versionLabel = "org.opencontainers.image.version"
)

// Entrypoint is the Dockerfile's ENTRYPOINT.
var Entrypoint = []string{ManagerPath}

// Labels returns the Dockerfile's LABELs for version.
func Labels(version string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "kubevirt-wol",
		"org.opencontainers.image.description": "Wake-on-LAN for KubeVirt VirtualMachines: operator and listener",
		"org.opencontainers.image.source":      "https://github.com/gpillon/kubevirt-wol",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		versionLabel:                           version,
	}
}

// Env is what the Dockerfile's base image (distroless/static) sets: the
// usual PATH and where the CA certificates are.
var Env = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=" + CACertificatesPath,
}

// Options are the inputs of an image.
type Options struct {
	// Manager and Listener are the static binaries to ship.
	Manager, Listener string
	// Pause, if set, makes main write the sandbox image of BuildPause
	// with this binary instead.
	Pause string
	// Version is the image's version label.
	Version string
	// Ref names the image in the archive (repository:tag).
	Ref string
	// OS and Arch are the binaries' platform.
	OS, Arch string
	// Created is the image's and its files' time (the Unix epoch if zero).
	Created time.Time
}

// Build assembles the image: a layer of run-time files (CA certificates,
// /etc/passwd and /etc/group with the nonroot user, /tmp, the users'
// homes), then a layer with the two binaries, and the Dockerfile's labels,
// user, working directory and entrypoint. Only its inputs decide its digest.
func Build(o Options) (v1.Image, error) {
	base, err := baseFiles()
	if err != nil {
		return nil, err
	}
	var bins []file
	for _, b := range []struct{ src, dst string }{{o.Manager, ManagerPath}, {o.Listener, ListenerPath}} {
		data, err := os.ReadFile(b.src)
		if err != nil {
			return nil, err
		}
		bins = append(bins, file{path: strings.TrimPrefix(b.dst, "/"), mode: 0o755, data: data})
	}
	return assemble(o.OS, o.Arch, o.Created, []stage{
		{base, "hack/image: CA certificates, /etc/passwd, /etc/group, /etc/nsswitch.conf, /tmp, /root, /home/nonroot"},
		{bins, "hack/image: " + ManagerPath + " and " + ListenerPath + " (the Dockerfile's COPY)"},
	}, func(c *v1.Config) {
		c.User = User
		c.WorkingDir = WorkingDir
		c.Entrypoint = Entrypoint
		c.Env = Env
		c.Labels = Labels(o.Version)
	})
}

// stage is one layer of an image: its files and what made it (its history
// entry).
type stage struct {
	files     []file
	createdBy string
}

// assemble makes an OCI image for osName/arch of one layer per stage on an
// empty base, every timestamp at created (the Unix epoch if zero), its
// configuration completed by config.
func assemble(osName, arch string, created time.Time, stages []stage, config func(*v1.Config)) (v1.Image, error) {
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	t := v1.Time{Time: created}
	adds := make([]mutate.Addendum, 0, len(stages))
	for _, st := range stages {
		l, err := layer(st.files, created)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
			History: v1.History{Created: t, CreatedBy: st.createdBy}})
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = osName, arch, t
	config(&cf.Config)
	return mutate.ConfigFile(img, cf)
}

// splitPlatform splits "os/arch".
func splitPlatform(p string) (string, string, error) {
	osName, arch, ok := strings.Cut(p, "/")
	if !ok || osName == "" || arch == "" || strings.Contains(arch, "/") {
		return "", "", fmt.Errorf("platform %q is not os/arch", p)
	}
	return osName, arch, nil
}
