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
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PausePath is where the sandbox image keeps its one program.
const PausePath = "/pause"

// pauseUser is the user of registry.k8s.io/pause.
const pauseUser = "65535:65535"

// BuildPause assembles a pod sandbox ("pause") image for a local kubelet
// node: the static binary pause (Kubernetes' own build/pause/linux/pause.c,
// compiled by the Makefile) as /pause, its entrypoint, run as 65535 like
// registry.k8s.io/pause. containerd starts one per pod to hold its
// namespaces; nothing else is in it.
func BuildPause(pause, osName, arch string, created time.Time) (v1.Image, error) {
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	data, err := os.ReadFile(pause)
	if err != nil {
		return nil, err
	}
	l, err := layer([]file{{path: PausePath[1:], mode: 0o755, data: data}}, created)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	t := v1.Time{Time: created}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
		History: v1.History{Created: t, CreatedBy: "hack/image: " + PausePath + " (Kubernetes' pause.c)"}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = osName, arch, t
	cf.Config.User = pauseUser
	cf.Config.Entrypoint = []string{PausePath}
	return mutate.ConfigFile(img, cf)
}
