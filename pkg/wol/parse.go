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

package wol

import (
	"bytes"
	"encoding/binary"
)

// Layout of a magic packet and of the frames that carry it.
const (
	// SyncLen is the length of the synchronisation stream (six 0xFF bytes).
	SyncLen = 6
	// Repetitions is how many times the target address follows the
	// synchronisation stream.
	Repetitions = 16
	// PacketLen is the length of a magic packet without password: 102 bytes.
	PacketLen = SyncLen + Repetitions*len(MAC{})
	// MaxPasswordLen is the longest SecureOn password (6 bytes).
	MaxPasswordLen = 6
	// MaxSyncOffset bounds the search: the synchronisation stream must start
	// within the first MaxSyncOffset bytes of the payload, so that a packet
	// anywhere inside a standard 1500-byte Ethernet payload is found and the
	// cost of scanning junk stays bounded whatever its length.
	MaxSyncOffset = 1500 - PacketLen

	// EtherType is the ethertype of a raw Wake-on-LAN frame.
	EtherType = 0x0842
	// EtherTypeVLAN is the tag protocol identifier of an IEEE 802.1Q tag.
	EtherTypeVLAN = 0x8100
	// EthernetHeaderLen is the length of an untagged Ethernet II header.
	EthernetHeaderLen = 14
	// VLANTagLen is the length of one 802.1Q tag.
	VLANTagLen = 4

	// DefaultPort is the conventional UDP port of Wake-on-LAN (discard).
	DefaultPort = 9
)

var syncStream = [SyncLen]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Packet is a parsed magic packet.
type Packet struct {
	// Target is the address repeated sixteen times: the machine to wake.
	// It is always a unicast address.
	Target MAC
	// Password holds the SecureOn password in its first PasswordLen bytes.
	Password [MaxPasswordLen]byte
	// PasswordLen is 0 (no password), 4 or 6.
	PasswordLen uint8
}

// HasPassword reports whether the packet carried a SecureOn password.
func (p *Packet) HasPassword() bool { return p.PasswordLen != 0 }

// PasswordBytes returns the password as a slice of p.Password (empty when
// there is none). It does not copy.
func (p *Packet) PasswordBytes() []byte { return p.Password[:min(int(p.PasswordLen), MaxPasswordLen)] }

// ParsePayload finds a magic packet in b, the payload of a UDP datagram or
// of an ethertype 0x0842 frame.
//
// The synchronisation stream may start anywhere in the first MaxSyncOffset
// bytes; the first position followed by sixteen identical unicast addresses
// wins. If exactly 4 or 6 bytes follow the sixteen repetitions they are
// returned as the SecureOn password; any other trailing data is allowed and
// ignored. The scan is linear in len(b) and allocates nothing.
//
// On failure the error is one of ReasonTooShort, ReasonNoSync,
// ReasonMismatch or ReasonBadTarget (the most specific one met while
// scanning).
func ParsePayload(b []byte) (p Packet, err error) {
	if r := parsePayload(b, &p); r != 0 {
		return Packet{}, r
	}
	return p, nil
}

// parsePayload is ParsePayload storing the packet in *p, which must be
// zero; it returns 0 or the reason of the rejection. The parsers write the
// packet in place: Packet and Frame are returned in memory, and every copy
// of them on the way out costs a good part of the parse.
func parsePayload(b []byte, p *Packet) Reason {
	if len(b) < PacketLen {
		return ReasonTooShort
	}
	// Fast path: the packet starts the payload, as every common sender
	// makes it (the general scan below would reach the same result).
	if binary.LittleEndian.Uint32(b) == 0xffffffff && binary.LittleEndian.Uint16(b[4:]) == 0xffff &&
		b[SyncLen] != 0xff && checkAt(b, 0) == 0 {
		setPacket(p, b, 0)
		return 0
	}
	lastStart := min(len(b)-PacketLen, MaxSyncOffset)
	worst := ReasonNoSync
	for pos := 0; pos <= lastStart; {
		i := bytes.IndexByte(b[pos:lastStart+1], 0xff)
		if i < 0 {
			break
		}
		runStart := pos + i
		runEnd := runStart + 1
		for runEnd < len(b) && b[runEnd] == 0xff {
			runEnd++
		}
		if runEnd-runStart < SyncLen {
			pos = runEnd
			continue
		}
		// A unicast target never starts with 0xff (that is the group bit),
		// so within a run of 0xff bytes the only position that can start a
		// valid packet is the one whose stream ends with the run. Earlier
		// positions can only give a rejection; the run start is tried for
		// the sake of a precise reason, the rest are skipped so that the
		// scan stays linear.
		cand := min(runEnd-SyncLen, lastStart)
		r := checkAt(b, cand)
		if r == 0 {
			setPacket(p, b, cand)
			return 0
		}
		worst = max(worst, r)
		if cand != runStart {
			worst = max(worst, checkAt(b, runStart))
		}
		pos = runEnd
	}
	return worst
}

// checkAt verifies the sixteen repetitions after a synchronisation stream at
// b[off:]; the caller guarantees off+PacketLen <= len(b). It returns 0 for a
// valid packet.
func checkAt(b []byte, off int) Reason {
	reps := b[off+SyncLen : off+PacketLen]
	hi := binary.LittleEndian.Uint32(reps)
	lo := binary.LittleEndian.Uint16(reps[4:])
	// Most near misses fail on the second repetition: check it alone first.
	if binary.LittleEndian.Uint32(reps[6:]) != hi || binary.LittleEndian.Uint16(reps[10:]) != lo {
		return ReasonMismatch
	}
	// Sixteen equal repetitions of 6 bytes is a sequence of period 6:
	// every byte equals the one 6 bytes further on. One comparison of two
	// overlapping 90-byte windows (vectorised by the runtime) checks that.
	if !bytes.Equal(reps[:len(reps)-6], reps[6:]) {
		return ReasonMismatch
	}
	if reps[0]&0x01 != 0 || (hi == 0 && lo == 0) {
		return ReasonBadTarget // group bit (multicast, broadcast) or zero
	}
	return 0
}

// setPacket stores the packet found at b[off:] in *p.
func setPacket(p *Packet, b []byte, off int) {
	copy(p.Target[:], b[off+SyncLen:])
	if trailing := len(b) - off - PacketLen; trailing == 4 || trailing == 6 {
		p.PasswordLen = uint8(copy(p.Password[:], b[off+PacketLen:]))
	}
}

// Frame is a parsed Ethernet II frame carrying a magic packet.
type Frame struct {
	// Dst is the destination address: broadcast, or unicast (etherwake's
	// default is the target's own address).
	Dst MAC
	// Src is the sender's address.
	Src MAC
	// Tagged reports whether the frame carried an 802.1Q tag in its data.
	Tagged bool
	// VLAN is the 12-bit VLAN identifier of that tag (0 when untagged).
	VLAN uint16
	// Packet is the magic packet found in the frame's payload.
	Packet
}

// ParseFrame parses an Ethernet II frame (starting at the destination
// address, without frame check sequence) with ethertype 0x0842, optionally
// behind one 802.1Q tag, and the magic packet in its payload. Any destination
// is accepted; deciding which frames to listen to is the receiver's business.
//
// On failure the error is ReasonTooShort, ReasonNotWoLEthertype or one of the
// reasons of ParsePayload. It allocates nothing.
func ParseFrame(b []byte) (f Frame, err error) {
	if len(b) < EthernetHeaderLen {
		return Frame{}, ReasonTooShort
	}
	et := binary.BigEndian.Uint16(b[12:])
	off := EthernetHeaderLen
	if et == EtherTypeVLAN {
		if len(b) < EthernetHeaderLen+VLANTagLen {
			return Frame{}, ReasonTooShort
		}
		f.Tagged = true
		f.VLAN = binary.BigEndian.Uint16(b[14:]) & 0x0fff
		et = binary.BigEndian.Uint16(b[16:])
		off += VLANTagLen
	}
	if et != EtherType {
		return Frame{}, ReasonNotWoLEthertype
	}
	// The packet is written into the result in place (see parsePayload).
	if r := parsePayload(b[off:], &f.Packet); r != 0 {
		return Frame{}, r
	}
	copy(f.Dst[:], b[0:6])
	copy(f.Src[:], b[6:12])
	return f, nil
}
