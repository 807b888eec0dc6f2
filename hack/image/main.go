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

// Command image writes the kubevirt-wol image — the manager and listener
// binaries the Dockerfile ships, on an empty base plus the few files they
// need at run time — as an image archive, without Docker or a registry:
//
//	go run . -manager ../../bin/manager -listener ../../bin/listener \
//	    -ref quay.io/kubevirt-wol/kubevirt-wol:v0.1.0 -version 0.1.0 -out ../../bin/kubevirt-wol-image.tar
//
// The OCI archive (the default) loads with `ctr -n k8s.io images import`,
// `podman load` and `docker load` (Docker 25 or later); -format docker writes
// the `docker save` layout older Docker versions need. Every timestamp is
// fixed (-created, or $SOURCE_DATE_EPOCH, or the Unix epoch), so the same
// binaries always give the same image digest, which it prints.
//
// With -pause BINARY it writes a pod sandbox image instead (BuildPause): the
// static pause program as /pause, for the real kubelet node of the e2e suite (test/e2e).
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	var o Options
	var out, format, platform string
	flag.StringVar(&o.Manager, "manager", "bin/manager", "The manager binary (the image's /manager).")
	flag.StringVar(&o.Listener, "listener", "bin/listener", "The listener binary (the image's /listener).")
	flag.StringVar(&o.Pause, "pause", "",
		"Write a pod sandbox image instead: this static pause binary as /pause (a local kubelet node's sandbox_image).")
	flag.StringVar(&o.Version, "version", "", "The org.opencontainers.image.version label (the Makefile's VERSION).")
	flag.StringVar(&platform, "platform", "linux/amd64", "The platform the binaries were built for, os/arch.")
	flag.StringVar(&o.Ref, "ref", "", "The image's name, repository:tag (the Makefile's IMG).")
	flag.StringVar(&out, "out", "", "The archive to write.")
	flag.StringVar(&format, "format", FormatOCI, "The archive's layout: oci (OCI image layout) or docker (docker save).")
	created := flag.String("created", os.Getenv("SOURCE_DATE_EPOCH"),
		"Creation time of the image and its files, in seconds since the Unix epoch (default $SOURCE_DATE_EPOCH, else 0).")
	flag.Parse()

	if err := run(&o, out, format, platform, *created); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o *Options, out, format, platform, created string) error {
	if out == "" || o.Ref == "" || (o.Version == "" && o.Pause == "") {
		return fmt.Errorf("-out, -ref and -version (or -pause) are required")
	}
	var err error
	if o.OS, o.Arch, err = splitPlatform(platform); err != nil {
		return err
	}
	if created != "" {
		secs, err := strconv.ParseInt(created, 10, 64)
		if err != nil {
			return fmt.Errorf("-created %q: %w", created, err)
		}
		o.Created = time.Unix(secs, 0).UTC()
	}
	var img v1.Image
	if o.Pause != "" {
		img, err = BuildPause(o.Pause, o.OS, o.Arch, o.Created)
	} else {
		img, err = Build(*o)
	}
	if err != nil {
		return err
	}
	if err := WriteArchive(out, format, o.Ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image %s (%s/%s) written to %s (%s archive), digest %s\n", o.Ref, o.OS, o.Arch, out, format, digest)
	return nil
}
