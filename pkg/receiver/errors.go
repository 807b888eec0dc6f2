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
	"os"
	"syscall"
)

// ErrStopped is returned by Run and Reconfigure once the listener has
// stopped; a Receiver is not restartable (create a new one).
var ErrStopped = errors.New("listener: stopped")

// ErrUnsupported is returned on platforms without the needed sockets (the
// listener needs Linux).
var ErrUnsupported = errors.New("listener: unsupported platform, Linux is required")

// BindError reports a socket that could not be opened or bound. It names the
// protocol and the port (UDP) or interface (raw) and wraps the cause, so that
// errors.Is(err, syscall.EADDRINUSE) and the like work.
type BindError struct {
	// Protocol is the receiver that failed.
	Protocol Protocol
	// Port is the UDP port (0 for raw).
	Port uint16
	// Interface is the interface name (raw, or a name in Config.Interfaces
	// that does not exist); "" means all interfaces.
	Interface string
	// Err is the underlying error.
	Err error
}

// Error returns e.g. "listener: cannot bind udp4 port 9: bind: address
// already in use".
func (e *BindError) Error() string {
	what := fmt.Sprintf("%s port %d", e.Protocol, e.Port)
	if e.Protocol == ProtocolRaw || e.Port == 0 {
		what = fmt.Sprintf("%s socket on interface %q", e.Protocol, e.Interface)
		if e.Interface == "" {
			what = fmt.Sprintf("%s socket on all interfaces", e.Protocol)
		}
	}
	cause := e.Err
	var sysErr *os.SyscallError
	if errors.As(e.Err, &sysErr) {
		cause = sysErr // drop the "listen udp4 0.0.0.0:9:" prefix already said above
	}
	return fmt.Sprintf("listener: cannot bind %s: %v%s", what, cause, e.hint())
}

func (e *BindError) hint() string {
	switch {
	case errors.Is(e.Err, syscall.EACCES) && e.Protocol != ProtocolRaw:
		return " (ports below 1024 need CAP_NET_BIND_SERVICE)"
	case errors.Is(e.Err, syscall.EPERM) && e.Protocol == ProtocolRaw:
		return " (raw mode needs CAP_NET_RAW)"
	case errors.Is(e.Err, syscall.EADDRINUSE):
		return " (another process holds the port without SO_REUSEPORT, or as another user)"
	}
	return ""
}

// Unwrap returns the underlying error.
func (e *BindError) Unwrap() error { return e.Err }
