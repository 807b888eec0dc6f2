//go:build !linux

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

package netns

import "errors"

// ErrUnsupported: network namespaces exist on Linux only.
var ErrUnsupported = errors.New("network namespaces are only supported on Linux")

// Run runs fn in the process's own namespace when path is empty; any other
// path is an error off Linux.
func Run(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	return ErrUnsupported
}
