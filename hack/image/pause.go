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
	data, err := os.ReadFile(pause)
	if err != nil {
		return nil, err
	}
	return assemble(osName, arch, created, []stage{
		{[]file{{path: PausePath[1:], mode: 0o755, data: data}}, "hack/image: " + PausePath + " (Kubernetes' pause.c)"},
	}, func(c *v1.Config) {
		c.User = pauseUser
		c.Entrypoint = []string{PausePath}
	})
}
