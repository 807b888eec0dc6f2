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
	"context"
	"net/netip"
	"time"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Protocol is the way a magic packet reached the listener.
type Protocol uint8

// Protocols. String gives the metric label.
const (
	// ProtocolUDP4 is a UDP datagram over IPv4.
	ProtocolUDP4 Protocol = iota + 1
	// ProtocolUDP6 is a UDP datagram over IPv6.
	ProtocolUDP6
	// ProtocolRaw is an Ethernet frame with ethertype 0x0842.
	ProtocolRaw

	numProtocols = iota + 1
)

var protocolNames = [numProtocols]string{"unknown", "udp4", "udp6", "raw"}

// String returns "udp4", "udp6" or "raw".
func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// Origin says where and how a magic packet was received, for events and
// logs.
type Origin struct {
	// Protocol is udp4, udp6 or raw.
	Protocol Protocol
	// Port is the local UDP port the datagram was sent to (0 for raw).
	Port uint16
	// Source is the sender's address and port (UDP only). IPv6 link-local
	// addresses carry no zone; IfIndex identifies the link.
	Source netip.AddrPort
	// Destination is the IP destination of the datagram, e.g.
	// 255.255.255.255, a subnet broadcast or the node's address (UDP only).
	Destination netip.Addr
	// SourceMAC is the Ethernet source address (raw only).
	SourceMAC wol.MAC
	// DestinationMAC is the Ethernet destination: broadcast or, with
	// promiscuous mode, typically the target itself (raw only).
	DestinationMAC wol.MAC
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
	// Interface is the name of that interface ("" if it could not be
	// resolved).
	Interface string
	// VLAN is the 802.1Q VLAN identifier of a tagged frame, whether the tag
	// was in the frame or stripped into metadata by the driver; for
	// double-tagged frames, the outer one (raw only).
	VLAN uint16
	// Tagged reports whether the frame carried a VLAN tag (raw only).
	Tagged bool
	// ReceivedAt is when the packet was taken from the socket.
	ReceivedAt time.Time
}

// Wake is one admitted wake request: a valid magic packet that was neither a
// duplicate nor rate-limited.
type Wake struct {
	// Packet holds the target MAC and the SecureOn password, if any.
	wol.Packet
	// Origin says where the packet came from.
	Origin Origin
}

// WakeHandler acts on admitted wake requests, typically by starting the
// virtual machine that owns Target. HandleWake is called from a fixed pool
// of worker goroutines, concurrently; it must honour ctx, which is cancelled
// when the listener stops. A returned error is counted and logged; it does
// not cause a retry.
type WakeHandler interface {
	HandleWake(ctx context.Context, w Wake) error
}

// WakeHandlerFunc adapts a function to WakeHandler.
type WakeHandlerFunc func(ctx context.Context, w Wake) error

// HandleWake calls f(ctx, w).
func (f WakeHandlerFunc) HandleWake(ctx context.Context, w Wake) error { return f(ctx, w) }
