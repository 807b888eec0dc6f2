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
	"errors"
	"testing"
)

var (
	macA = MAC{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	macB = MAC{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// reps returns the sixteen repetitions of mac without a sync stream.
func reps(mac MAC) []byte { return AppendMagic(nil, mac, nil)[SyncLen:] }

func TestParsePayload(t *testing.T) {
	valid := AppendMagic(nil, macA, nil)
	badRep := AppendMagic(nil, macA, nil)
	badRep[SyncLen+6*9+3] ^= 0x40
	lastRepCut := cat(repeat(0xff, 6), reps(macA)[:90], []byte{0, 0, 0, 0, 0, 0})

	tests := []struct {
		name   string
		in     []byte
		want   Packet
		reason Reason
	}{
		{name: "valid at offset 0", in: valid, want: Packet{Target: macA}},
		{name: "locally administered target", in: AppendMagic(nil, macB, nil), want: Packet{Target: macB}},
		{name: "target containing 0xff bytes", in: AppendMagic(nil, MAC{0, 0xff, 0xff, 0xff, 0xff, 0xff}, nil),
			want: Packet{Target: MAC{0, 0xff, 0xff, 0xff, 0xff, 0xff}}},
		{name: "password 4 bytes", in: AppendMagic(nil, macA, []byte{1, 2, 3, 4}),
			want: Packet{Target: macA, Password: [6]byte{1, 2, 3, 4}, PasswordLen: 4}},
		{name: "password 6 bytes", in: AppendMagic(nil, macA, []byte{1, 2, 3, 4, 5, 6}),
			want: Packet{Target: macA, Password: [6]byte{1, 2, 3, 4, 5, 6}, PasswordLen: 6}},
		{name: "5 trailing bytes are not a password", in: AppendMagic(nil, macA, []byte{1, 2, 3, 4, 5}), want: Packet{Target: macA}},
		{name: "1 trailing byte is not a password", in: AppendMagic(nil, macA, []byte{9}), want: Packet{Target: macA}},
		{name: "long trailing data is not a password", in: AppendMagic(nil, macA, repeat(7, 300)), want: Packet{Target: macA}},
		{name: "after a prefix", in: cat([]byte("some header"), valid), want: Packet{Target: macA}},
		{name: "after a prefix, with password", in: cat(repeat(0, 40), AppendMagic(nil, macA, []byte{9, 8, 7, 6})),
			want: Packet{Target: macA, Password: [6]byte{9, 8, 7, 6}, PasswordLen: 4}},
		{name: "sync stream preceded by more 0xff", in: cat(repeat(0xff, 9), reps(macA)), want: Packet{Target: macA}},
		{name: "decoy sync with bad repetitions first", in: cat(repeat(0xff, 6), []byte{1, 2, 3, 4, 5, 6, 7}, valid), want: Packet{Target: macA}},
		{name: "broadcast-target packet then valid one", in: cat(repeat(0xff, PacketLen), []byte{0}, valid), want: Packet{Target: macA}},
		{name: "at the largest offset scanned", in: cat(repeat(0, MaxSyncOffset), valid), want: Packet{Target: macA}},
		{name: "beyond the largest offset scanned", in: cat(repeat(0, MaxSyncOffset+1), valid), reason: ReasonNoSync},
		{name: "empty", in: nil, reason: ReasonTooShort},
		{name: "one byte short", in: valid[:PacketLen-1], reason: ReasonTooShort},
		{name: "zeros", in: make([]byte, PacketLen), reason: ReasonNoSync},
		{name: "five 0xff only", in: cat(repeat(0xff, 5), reps(macA), []byte{0}), reason: ReasonNoSync},
		{name: "text", in: bytes.Repeat([]byte("not a magic packet "), 10), reason: ReasonNoSync},
		{name: "one repetition differs", in: badRep, reason: ReasonMismatch},
		{name: "last repetition cut", in: lastRepCut, reason: ReasonMismatch},
		{name: "broadcast target", in: AppendMagic(nil, Broadcast, nil), reason: ReasonBadTarget},
		{name: "all 0xff, long", in: repeat(0xff, 400), reason: ReasonBadTarget},
		{name: "zero target", in: AppendMagic(nil, MAC{}, nil), reason: ReasonBadTarget},
		{name: "multicast target", in: AppendMagic(nil, MAC{0x01, 0x00, 0x5e, 0, 0, 1}, nil), reason: ReasonBadTarget},
		{name: "multicast target starting with 0xff", in: AppendMagic(nil, MAC{0xff, 0, 0x11, 0x22, 0x33, 0x44}, []byte{5}), reason: ReasonBadTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePayload(tc.in)
			if tc.reason != 0 {
				if err != tc.reason || !errors.Is(err, tc.reason) || ReasonOf(err) != tc.reason {
					t.Fatalf("ParsePayload() error = %v (%s), want %s", err, ReasonOf(err), tc.reason)
				}
				if got != (Packet{}) {
					t.Fatalf("ParsePayload() returned %+v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePayload() error = %v (%s)", err, ReasonOf(err))
			}
			if got != tc.want {
				t.Fatalf("ParsePayload() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFrame(t *testing.T) {
	payload := AppendMagic(nil, macA, nil)
	hdr := func(dst MAC, et ...byte) []byte { return cat(dst[:], macB[:], et) }
	tests := []struct {
		name   string
		in     []byte
		want   Frame
		reason Reason
	}{
		{name: "broadcast", in: cat(hdr(Broadcast, 0x08, 0x42), payload),
			want: Frame{Dst: Broadcast, Src: macB, Packet: Packet{Target: macA}}},
		{name: "unicast to the target (etherwake default)", in: cat(hdr(macA, 0x08, 0x42), payload),
			want: Frame{Dst: macA, Src: macB, Packet: Packet{Target: macA}}},
		{name: "802.1Q tag, priority bits ignored", in: cat(hdr(Broadcast, 0x81, 0x00, 0xa0, 0x64, 0x08, 0x42), payload),
			want: Frame{Dst: Broadcast, Src: macB, Tagged: true, VLAN: 100, Packet: Packet{Target: macA}}},
		{name: "802.1Q tag with password", in: cat(hdr(Broadcast, 0x81, 0x00, 0x0f, 0xff, 0x08, 0x42), AppendMagic(nil, macA, []byte{1, 2, 3, 4, 5, 6})),
			want: Frame{Dst: Broadcast, Src: macB, Tagged: true, VLAN: 4095,
				Packet: Packet{Target: macA, Password: [6]byte{1, 2, 3, 4, 5, 6}, PasswordLen: 6}}},
		{name: "password 4 bytes", in: cat(hdr(Broadcast, 0x08, 0x42), AppendMagic(nil, macA, []byte{10, 0, 0, 1})),
			want: Frame{Dst: Broadcast, Src: macB, Packet: Packet{Target: macA, Password: [6]byte{10, 0, 0, 1}, PasswordLen: 4}}},
		{name: "empty", in: nil, reason: ReasonTooShort},
		{name: "header only", in: hdr(Broadcast, 0x08, 0x42), reason: ReasonTooShort},
		{name: "truncated header", in: hdr(Broadcast, 0x08), reason: ReasonTooShort},
		{name: "truncated tag", in: hdr(Broadcast, 0x81, 0x00, 0x00, 0x64), reason: ReasonTooShort},
		{name: "IPv4 ethertype", in: cat(hdr(Broadcast, 0x08, 0x00), payload), reason: ReasonNotWoLEthertype},
		{name: "tagged IPv4", in: cat(hdr(Broadcast, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00), payload), reason: ReasonNotWoLEthertype},
		{name: "double tag", in: cat(hdr(Broadcast, 0x81, 0x00, 0x00, 0x64, 0x81, 0x00, 0x00, 0x65, 0x08, 0x42), payload), reason: ReasonNotWoLEthertype},
		{name: "0x0842 junk", in: cat(hdr(Broadcast, 0x08, 0x42), make([]byte, 200)), reason: ReasonNoSync},
		{name: "0x0842 mismatch", in: cat(hdr(Broadcast, 0x08, 0x42), payload[:60], make([]byte, 60)), reason: ReasonMismatch},
		{name: "0x0842 broadcast target", in: cat(hdr(Broadcast, 0x08, 0x42), AppendMagic(nil, Broadcast, nil)), reason: ReasonBadTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFrame(tc.in)
			if tc.reason != 0 {
				if err != tc.reason || ReasonOf(err) != tc.reason {
					t.Fatalf("ParseFrame() error = %v, want %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFrame() error = %v", err)
			}
			if got != tc.want {
				t.Fatalf("ParseFrame() = %+v, want %+v", got, tc.want)
			}
			if rt, err := ParseFrame(AppendFrame(nil, got)); err != nil || rt != got {
				t.Fatalf("ParseFrame(AppendFrame(f)) = %+v, %v; want %+v", rt, err, got)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || s == "none" || s == "unknown" || seen[s] {
			t.Fatalf("reason %d has label %q", r, s)
		}
		seen[s] = true
		if r.Error() == "" {
			t.Fatalf("reason %s has no message", s)
		}
	}
	if len(seen) != 5 {
		t.Fatalf("got %d reasons, want 5", len(seen))
	}
	if Reason(0).String() != "none" || Reason(200).String() != "unknown" {
		t.Fatal("labels of out-of-range reasons")
	}
	if ReasonOf(nil) != 0 || ReasonOf(errors.New("x")) != 0 {
		t.Fatal("ReasonOf of a foreign error")
	}
	if ReasonOf(errors.Join(errors.New("x"), ReasonNoSync)) != ReasonNoSync {
		t.Fatal("ReasonOf of a wrapped reason")
	}
}

// TestParseDoesNotAllocate enforces the hot-path contract: parsing, valid or
// invalid, makes no heap allocation.
func TestParseDoesNotAllocate(t *testing.T) {
	valid := AppendMagic(nil, macA, []byte{1, 2, 3, 4})
	frame := AppendFrame(nil, Frame{Dst: Broadcast, Src: macB, Tagged: true, VLAN: 7, Packet: Packet{Target: macA}})
	junk := bytes.Repeat([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}, 200)
	cases := map[string]func(){
		"payload valid":   func() { _, _ = ParsePayload(valid) },
		"payload invalid": func() { _, _ = ParsePayload(junk) },
		"payload short":   func() { _, _ = ParsePayload(valid[:10]) },
		"frame valid":     func() { _, _ = ParseFrame(frame) },
		"frame invalid":   func() { _, _ = ParseFrame(frame[:40]) },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
}
