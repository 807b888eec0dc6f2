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

package receiver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestBindErrorMessages(t *testing.T) {
	listenErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "udp4", Err: os.NewSyscallError("bind", errno)}
	}
	tests := []struct {
		err  *BindError
		want string
		is   error
	}{
		{&BindError{Protocol: ProtocolUDP4, Port: 9, Err: listenErr(syscall.EADDRINUSE)},
			"listener: cannot bind udp4 port 9: bind: address already in use (another process holds the port", syscall.EADDRINUSE},
		{&BindError{Protocol: ProtocolUDP6, Port: 7, Err: listenErr(syscall.EACCES)},
			"listener: cannot bind udp6 port 7: bind: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)", syscall.EACCES},
		{&BindError{Protocol: ProtocolRaw, Interface: "eth0", Err: os.NewSyscallError("socket", syscall.EPERM)},
			`listener: cannot bind raw socket on interface "eth0": socket: operation not permitted (raw mode needs CAP_NET_RAW)`, syscall.EPERM},
		{&BindError{Protocol: ProtocolRaw, Err: os.NewSyscallError("bind", syscall.ENODEV)},
			"listener: cannot bind raw socket on all interfaces: bind: no such device", syscall.ENODEV},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Error() = %q, want prefix %q", got, tc.want)
		}
		if !errors.Is(fmt.Errorf("wrapped: %w", tc.err), tc.is) {
			t.Errorf("%v is not %v", tc.err, tc.is)
		}
	}
}

func TestIPv6Unavailable(t *testing.T) {
	for errno, want := range map[syscall.Errno]bool{
		syscall.EAFNOSUPPORT: true, syscall.EPROTONOSUPPORT: true, syscall.EADDRNOTAVAIL: true,
		syscall.EADDRINUSE: false, syscall.EACCES: false,
	} {
		err := &net.OpError{Op: "listen", Net: "udp6", Err: os.NewSyscallError("socket", errno)}
		if got := ipv6Unavailable(err); got != want {
			t.Errorf("ipv6Unavailable(%v) = %v, want %v", errno, got, want)
		}
	}
}
