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
	"strings"
	"testing"
)

// naiveParse is an obviously correct, quadratic reference for ParsePayload:
// the lowest offset within the scan bound that starts a valid packet.
func naiveParse(b []byte) (Packet, bool) {
	for off := 0; off <= MaxSyncOffset && off+PacketLen <= len(b); off++ {
		if !bytes.Equal(b[off:off+SyncLen], syncStream[:]) {
			continue
		}
		var m MAC
		copy(m[:], b[off+SyncLen:])
		if !m.IsUnicast() || !bytes.Equal(b[off+SyncLen:off+PacketLen], reps(m)) {
			continue
		}
		p := Packet{Target: m}
		if rest := b[off+PacketLen:]; len(rest) == 4 || len(rest) == 6 {
			p.PasswordLen = uint8(copy(p.Password[:], rest))
		}
		return p, true
	}
	return Packet{}, false
}

func addPayloadSeeds(f *testing.F) {
	f.Add(AppendMagic(nil, macA, nil))
	f.Add(AppendMagic(nil, macA, []byte{1, 2, 3, 4}))
	f.Add(AppendMagic(nil, macA, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(cat(repeat(0xff, 9), reps(macB), []byte{1, 2}))
	f.Add(cat(repeat(0xff, 6), []byte{1, 2, 3}, AppendMagic(nil, macB, nil)))
	f.Add(AppendMagic(nil, Broadcast, nil))
	f.Add(repeat(0xff, 250))
	f.Add([]byte("junk"))
}

func FuzzParsePayload(f *testing.F) {
	addPayloadSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		want, ok := naiveParse(b)
		if ok != (err == nil) {
			t.Fatalf("ParsePayload error = %v, reference found=%v", err, ok)
		}
		if err != nil {
			if r := ReasonOf(err); r < ReasonTooShort || r > ReasonBadTarget || err != r {
				t.Fatalf("unexpected error %#v", err)
			}
			if (len(b) < PacketLen) != (err == ReasonTooShort) {
				t.Fatalf("len %d gave %v", len(b), err)
			}
			return
		}
		if p != want {
			t.Fatalf("ParsePayload = %+v, reference = %+v", p, want)
		}
		if !p.Target.IsUnicast() || (p.PasswordLen != 0 && p.PasswordLen != 4 && p.PasswordLen != 6) {
			t.Fatalf("invalid result %+v", p)
		}
		if !bytes.Contains(b, AppendMagic(nil, p.Target, nil)) {
			t.Fatalf("payload does not contain sync + 16 x %v", p.Target)
		}
		if rt, err := ParsePayload(AppendMagic(nil, p.Target, p.PasswordBytes())); err != nil || rt != p {
			t.Fatalf("round trip = %+v, %v; want %+v", rt, err, p)
		}
	})
}

func FuzzParseFrame(f *testing.F) {
	f.Add(AppendFrame(nil, Frame{Dst: Broadcast, Src: macB, Packet: Packet{Target: macA}}))
	f.Add(AppendFrame(nil, Frame{Dst: macA, Src: macB, Tagged: true, VLAN: 42,
		Packet: Packet{Target: macA, Password: [6]byte{1, 2, 3, 4}, PasswordLen: 4}}))
	f.Add(cat(Broadcast[:], macB[:], []byte{0x08, 0x00}, AppendMagic(nil, macA, nil)))
	f.Add(cat(Broadcast[:], macB[:], []byte{0x81, 0x00}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			if r := ReasonOf(err); r < ReasonTooShort || r > ReasonNotWoLEthertype || err != r {
				t.Fatalf("unexpected error %#v", err)
			}
			return
		}
		off := EthernetHeaderLen
		if fr.Tagged {
			off += VLANTagLen
		}
		p, perr := ParsePayload(b[off:])
		if perr != nil || p != fr.Packet || !bytes.Equal(fr.Dst[:], b[:6]) || !bytes.Equal(fr.Src[:], b[6:12]) ||
			b[off-2] != 0x08 || b[off-1] != 0x42 || fr.VLAN > 0x0fff || (!fr.Tagged && fr.VLAN != 0) {
			t.Fatalf("inconsistent frame %+v for %x", fr, b)
		}
		if rt, err := ParseFrame(AppendFrame(nil, fr)); err != nil || rt != fr {
			t.Fatalf("round trip = %+v, %v; want %+v", rt, err, fr)
		}
	})
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"52:54:00:ab:cd:ef", "52-54-00-AB-CD-EF", "ff:ff:ff:ff:ff:ff", "", "52:54:00-ab:cd:ef", "zz:zz:zz:zz:zz:zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		str := m.String()
		if !strings.EqualFold(strings.ReplaceAll(s, "-", ":"), str) {
			t.Fatalf("ParseMAC(%q).String() = %q", s, str)
		}
		if m2, err := ParseMAC(str); err != nil || m2 != m {
			t.Fatalf("round trip of %q = %v, %v", str, m2, err)
		}
	})
}
