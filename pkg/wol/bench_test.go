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
	"testing"
)

// Parsing benchmarks. Run with: go test -run=^$ -bench=Parse -benchmem -cpu 1 ./pkg/wol

func benchPayload(b *testing.B, in []byte, wantErr bool) {
	b.Helper()
	if _, err := ParsePayload(in); (err != nil) != wantErr {
		b.Fatalf("unexpected result: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, _ = ParsePayload(in)
	}
}

func BenchmarkParsePayloadValid(b *testing.B) {
	benchPayload(b, AppendMagic(nil, macA, nil), false)
}

func BenchmarkParsePayloadValidPassword(b *testing.B) {
	benchPayload(b, AppendMagic(nil, macA, []byte{1, 2, 3, 4, 5, 6}), false)
}

func BenchmarkParsePayloadValidOffset(b *testing.B) {
	benchPayload(b, cat(make([]byte, 64), AppendMagic(nil, macA, nil)), false)
}

func BenchmarkParsePayloadInvalidShort(b *testing.B) {
	benchPayload(b, []byte("short"), true)
}

func BenchmarkParsePayloadInvalidNoSync(b *testing.B) {
	benchPayload(b, bytes.Repeat([]byte{0x5a}, 512), true)
}

func BenchmarkParsePayloadInvalidMismatch(b *testing.B) {
	in := AppendMagic(nil, macA, nil)
	in[PacketLen-1] ^= 1
	benchPayload(b, in, true)
}

// Worst case for the scan: a sync stream followed by a near-miss every 7
// bytes over a full 1472-byte UDP payload.
func BenchmarkParsePayloadInvalidAdversarial(b *testing.B) {
	benchPayload(b, bytes.Repeat([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}, 1472/7), true)
}

func benchFrame(b *testing.B, in []byte, wantErr bool) {
	b.Helper()
	if _, err := ParseFrame(in); (err != nil) != wantErr {
		b.Fatalf("unexpected result: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, _ = ParseFrame(in)
	}
}

func BenchmarkParseFrameValid(b *testing.B) {
	benchFrame(b, AppendFrame(nil, Frame{Dst: Broadcast, Src: macB, Packet: Packet{Target: macA}}), false)
}

func BenchmarkParseFrameValidVLAN(b *testing.B) {
	benchFrame(b, AppendFrame(nil, Frame{Dst: macA, Src: macB, Tagged: true, VLAN: 100, Packet: Packet{Target: macA}}), false)
}

func BenchmarkParseFrameInvalidEtherType(b *testing.B) {
	in := AppendFrame(nil, Frame{Dst: Broadcast, Src: macB, Packet: Packet{Target: macA}})
	in[13] = 0x00
	benchFrame(b, in, true)
}

func BenchmarkParseFrameInvalidNoSync(b *testing.B) {
	benchFrame(b, cat(Broadcast[:], macB[:], []byte{0x08, 0x42}, make([]byte, 102)), true)
}

func BenchmarkParseMACValid(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseMAC("52:54:00:AB:cd:ef")
	}
}

func BenchmarkParseMACInvalid(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseMAC("52:54:00:ab:cd:eg")
	}
}
