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

package vmstarter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Origin says where the magic packet that asks for a start came from. It
// appears in events and logs; it does not change what Start does.
type Origin struct {
	// Protocol is how the packet arrived: "udp4", "udp6" or "raw".
	Protocol string
	// Port is the UDP port the packet was sent to (0 for raw frames).
	Port uint16
	// Source is the sender's address and port (UDP).
	Source netip.AddrPort
	// SourceMAC is the sender's Ethernet address (raw frames).
	SourceMAC wol.MAC
	// Interface is the name of the interface the packet arrived on, if
	// known.
	Interface string
	// VLAN is the 802.1Q VLAN of a tagged frame (raw frames, Tagged only).
	VLAN uint16
	// Tagged reports whether the frame carried a VLAN tag.
	Tagged bool
}

// String describes the origin for humans, for example
// "192.0.2.7:40000 (udp4 port 9, interface eth0)" or
// "52:54:00:12:34:56 (raw, VLAN 10, interface eth0)".
func (o Origin) String() string {
	var b strings.Builder
	switch {
	case o.Source.IsValid():
		b.WriteString(o.Source.String())
	case !o.SourceMAC.IsZero():
		b.WriteString(o.SourceMAC.String())
	default:
		b.WriteString("an unknown sender")
	}
	var details []string
	if o.Protocol != "" {
		d := o.Protocol
		if o.Port != 0 {
			d += " port " + strconv.Itoa(int(o.Port))
		}
		details = append(details, d)
	}
	if o.Tagged {
		details = append(details, "VLAN "+strconv.Itoa(int(o.VLAN)))
	}
	if o.Interface != "" {
		details = append(details, "interface "+o.Interface)
	}
	if len(details) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(details, ", "))
		b.WriteString(")")
	}
	return b.String()
}
