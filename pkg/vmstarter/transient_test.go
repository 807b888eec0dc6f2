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

package vmstarter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

func TestIsTransient(t *testing.T) {
	vm := schema.GroupResource{Group: "kubevirt.io", Resource: "virtualmachines"}
	dial := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/apis", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &os.SyscallError{Syscall: "connect", Err: errno}}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", apierrors.NewTooManyRequests("slow down", 1), true},
		{"503", apierrors.NewServiceUnavailable("etcd"), true},
		{"504 server timeout", apierrors.NewServerTimeout(vm, "get", 1), true},
		{"timeout", apierrors.NewTimeoutError("slow", 1), true},
		{"connection refused", dial(syscall.ECONNREFUSED), true},
		{"connection reset", dial(syscall.ECONNRESET), true},
		{"no route to host", dial(syscall.EHOSTUNREACH), true},
		{"network unreachable", dial(syscall.ENETUNREACH), true},
		{"connection lost mid-request", &url.Error{Op: "Get", URL: "https://x", Err: io.ErrUnexpectedEOF}, true},
		{"HTTP/2 connection lost", &url.Error{Op: "Get", URL: "https://x", Err: errors.New("http2: client connection lost")}, true},
		{"HTTP/2 connection closed under the request", &url.Error{Op: "Get", URL: "https://x",
			Err: errors.New("http2: client connection force closed via ClientConn.Close")}, true},
		{"EOF", fmt.Errorf("reading: %w", io.EOF), true},
		{"404", apierrors.NewNotFound(vm, "x"), false},
		{"403", apierrors.NewForbidden(vm, "x", errors.New("no")), false},
		{"409", apierrors.NewConflict(vm, "x", errors.New("changed")), false},
		{"422", apierrors.NewInvalid(schema.GroupKind{Kind: "VirtualMachine"}, "x", nil), false},
		{"our own deadline", &url.Error{Op: "Get", URL: "https://x", Err: context.DeadlineExceeded}, false},
		{"our own cancellation", context.Canceled, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tc := range tests {
		if got := vmstarter.IsTransient(tc.err); got != tc.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
