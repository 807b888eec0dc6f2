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
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The archive layouts WriteArchive writes.
const (
	// FormatOCI is an OCI image layout (oci-layout, index.json, blobs/) in a
	// tar: what `ctr images export` writes and `ctr images import`,
	// `podman load` and Docker 25+ `docker load` read.
	FormatOCI = "oci"
	// FormatDocker is the layout of `docker save` (manifest.json), for
	// older Docker versions.
	FormatDocker = "docker"
)

// Annotations of the index entry that name the image in an OCI archive:
// containerd names the imported image after the first, the OCI layout
// specification's tag is the second.
const (
	containerdNameAnnotation = "io.containerd.image.name"
	ociRefNameAnnotation     = "org.opencontainers.image.ref.name"
)

// WriteArchive writes img, named ref, to out in format.
func WriteArchive(out, format, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	switch format {
	case FormatDocker:
		return tarball.WriteToFile(out, tag, img)
	case FormatOCI:
		return writeOCIArchive(out, tag, img)
	default:
		return fmt.Errorf("unknown archive format %q (want %s or %s)", format, FormatOCI, FormatDocker)
	}
}

// writeOCIArchive writes img as an OCI image layout in a temporary folder
// (go-containerregistry's layout writer) and packs that folder into out.
func writeOCIArchive(out string, tag name.Tag, img v1.Image) error {
	dir, err := os.MkdirTemp("", "kubevirt-wol-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if err := p.AppendImage(img,
		layout.WithAnnotations(map[string]string{containerdNameAnnotation: tag.Name(), ociRefNameAnnotation: tag.TagStr()}),
		layout.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture})); err != nil {
		return err
	}
	return packDir(dir, out)
}

// packDir writes the files under dir to a tar at out, in lexical order, with
// fixed times and owners, so that equal folders give equal archives.
func packDir(dir, out string) error {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp) }()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer func() { _ = src.Close() }()
		st, err := src.Stat()
		if err != nil {
			return err
		}
		h.Size = st.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
