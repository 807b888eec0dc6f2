//go:build linux

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
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParsePktinfo(t *testing.T) {
	other := cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16))

	in4 := make([]byte, unix.SizeofInet4Pktinfo)
	binary.NativeEndian.PutUint32(in4, 7)
	copy(in4[4:], []byte{10, 250, 0, 1})   // spec_dst: local address
	copy(in4[8:], []byte{10, 250, 0, 255}) // addr: header destination
	idx, dst := parsePktinfo(append(other, cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, in4)...))
	if idx != 7 || dst != netip.MustParseAddr("10.250.0.255") {
		t.Errorf("IPv4 pktinfo: %d %v", idx, dst)
	}

	in6 := make([]byte, unix.SizeofInet6Pktinfo)
	a6 := netip.MustParseAddr("ff02::1").As16()
	copy(in6, a6[:])
	binary.NativeEndian.PutUint32(in6[16:], 3)
	idx, dst = parsePktinfo(cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, in6))
	if idx != 3 || dst != netip.MustParseAddr("ff02::1") {
		t.Errorf("IPv6 pktinfo: %d %v", idx, dst)
	}

	bad := cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, in4)
	binary.NativeEndian.PutUint32(bad, 4096) // length beyond the buffer
	for name, oob := range map[string][]byte{"empty": nil, "short": {1, 2, 3}, "bad length": bad, "other": other} {
		if idx, dst := parsePktinfo(oob); idx != 0 || dst.IsValid() {
			t.Errorf("%s: %d %v", name, idx, dst)
		}
	}
}

func TestParseAuxVLAN(t *testing.T) {
	aux := func(status uint32, tci uint16) []byte {
		d := make([]byte, unsafe.Sizeof(unix.TpacketAuxdata{}))
		binary.NativeEndian.PutUint32(d, status)
		binary.NativeEndian.PutUint16(d[16:], tci)
		return cmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, d)
	}
	if tci, ok := parseAuxVLAN(aux(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_USER, 0x2064)); !ok || tci != 0x2064 {
		t.Errorf("tagged: %#x %v", tci, ok)
	}
	if _, ok := parseAuxVLAN(aux(unix.TP_STATUS_USER, 0)); ok {
		t.Error("untagged frame reported as tagged")
	}
	if _, ok := parseAuxVLAN(nil); ok {
		t.Error("no auxdata reported as tagged")
	}
}

func TestSockaddrAddrPort(t *testing.T) {
	var sa unix.RawSockaddrAny
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
	sa4.Family = unix.AF_INET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], 40000)
	sa4.Addr = [4]byte{10, 250, 0, 2}
	if got := sockaddrAddrPort(&sa); got != netip.MustParseAddrPort("10.250.0.2:40000") {
		t.Errorf("IPv4: %v", got)
	}
	sa = unix.RawSockaddrAny{}
	sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
	sa6.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa6.Port))[:], 9)
	sa6.Addr = netip.MustParseAddr("fd00:250::2").As16()
	if got := sockaddrAddrPort(&sa); got != netip.MustParseAddrPort("[fd00:250::2]:9") {
		t.Errorf("IPv6: %v", got)
	}
	if got := sockaddrAddrPort(&unix.RawSockaddrAny{}); got.IsValid() {
		t.Errorf("unknown family: %v", got)
	}
}

// The ethertype part of the kernel filter, run on x/net/bpf's interpreter
// (which lacks the packet-type extension; the real-socket tests cover that).
func TestEtherTypeFilter(t *testing.T) {
	vm, err := bpf.NewVM(etherTypeFilter)
	if err != nil {
		t.Fatal(err)
	}
	magic := wol.AppendMagic(nil, testMAC(1), nil)
	src := testMAC(2)
	hdr := func(et ...byte) []byte {
		return append(append(append([]byte{}, wol.Broadcast[:]...), src[:]...), et...)
	}
	tests := map[string]struct {
		frame  []byte
		accept bool
	}{
		"0x0842":           {append(hdr(0x08, 0x42), magic...), true},
		"802.1Q 0x0842":    {append(hdr(0x81, 0x00, 0x00, 0x64, 0x08, 0x42), magic...), true},
		"IPv4":             {append(hdr(0x08, 0x00), magic...), false},
		"802.1Q IPv4":      {append(hdr(0x81, 0x00, 0x00, 0x64, 0x08, 0x00), magic...), false},
		"ARP":              {append(hdr(0x08, 0x06), make([]byte, 28)...), false},
		"truncated tag":    {hdr(0x81, 0x00, 0x00), false},
		"truncated header": {hdr(0x08), false},
	}
	for name, tc := range tests {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (n > 0) != tc.accept {
			t.Errorf("%s: filter returned %d, accept = %v", name, n, tc.accept)
		}
	}
}

func TestWolFilterAssembles(t *testing.T) {
	for _, other := range []bool{false, true} {
		prog, err := wolFilter(other)
		if err != nil {
			t.Fatal(err)
		}
		insts, ok := bpf.Disassemble(prog)
		if !ok {
			t.Fatal("program does not disassemble")
		}
		// Every packet-type test must jump to the "drop" instruction.
		for i, ins := range insts {
			if j, ok := ins.(bpf.JumpIf); ok && (j.Val == unix.PACKET_OUTGOING || j.Val == unix.PACKET_OTHERHOST) {
				if target := insts[i+1+int(j.SkipTrue)]; target != (bpf.RetConstant{Val: 0}) {
					t.Errorf("acceptOtherHost=%v: instruction %d jumps to %v", other, i, target)
				}
			}
		}
		if want := 1 + 1 + len(etherTypeFilter); other && len(insts) != want || !other && len(insts) != want+1 {
			t.Errorf("acceptOtherHost=%v: %d instructions", other, len(insts))
		}
	}
}

// The per-packet path of a UDP reader makes no allocation for junk and
// duplicates, the bulk of a flood.
func TestReadPathDoesNotAllocate(t *testing.T) {
	l, r := newFakeUDP(t)
	junk := make([]byte, 300)
	dup := wol.AppendMagic(nil, testMAC(1), nil)
	now := time.Now()
	r.fill(dup)
	r.handle(l, 0, now) // admitted once; the rest are duplicates
	for name, payload := range map[string][]byte{"junk": junk, "duplicate": dup} {
		r.fill(payload)
		if n := testing.AllocsPerRun(1000, func() { r.handle(l, 0, now) }); n != 0 {
			t.Errorf("%s: %v allocations per packet", name, n)
		}
	}
}

type fakeUDP struct{ *udpReceiver }

// newFakeUDP returns a listener and a UDP receiver whose batch is filled by
// hand, to exercise the per-packet path without sockets.
func newFakeUDP(tb testing.TB) (*Receiver, fakeUDP) {
	l, err := New(Config{Ports: []uint16{9}, QueueSize: 1 << 16}, newRecorderFunc(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := fakeUDP{&udpReceiver{proto: ProtocolUDP4, port: 9, b: newBatch()}}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.b.names[0]))
	sa4.Family, sa4.Addr = unix.AF_INET, [4]byte{10, 250, 0, 2}
	in4 := make([]byte, unix.SizeofInet4Pktinfo)
	binary.NativeEndian.PutUint32(in4, 2)
	oob := cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, in4)
	copy(r.b.oobs[0][:], oob)
	r.b.hdrs[0].Hdr.SetControllen(len(oob))
	return l, r
}

// fill puts payload in the batch's first message, the one r.handle(l, 0,
// ...) reads.
func (r fakeUDP) fill(payload []byte) {
	copy(r.b.bufs[0][:], payload)
	r.b.hdrs[0].Len = uint32(len(payload))
}

// Packets from senders outside the allow-list are refused before admission:
// counted, never queued, and they take no dedupe entry or token, so the same
// target from an allowed sender right after is admitted.
func TestSourceAllowList(t *testing.T) {
	reg := prometheus.NewRegistry()
	var got []Wake
	h := WakeHandlerFunc(func(_ context.Context, w Wake) error { got = append(got, w); return nil })
	l, err := New(Config{Ports: []uint16{9}, Raw: true, AllowedSources: SourceFilter{
		Prefixes: []netip.Prefix{netip.MustParsePrefix("10.250.0.7/24"), netip.MustParsePrefix("fd00::1/128")},
		MACs:     []wol.MAC{testMAC(100)},
	}}, h, reg)
	if err != nil {
		t.Fatal(err)
	}
	r := fakeUDP{&udpReceiver{proto: ProtocolUDP4, port: 9, b: newBatch()}}
	setSource := func(ip netip.Addr) {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.b.names[0]))
		sa4.Family, sa4.Addr = unix.AF_INET, ip.As4()
	}
	pkt := wol.AppendMagic(nil, testMAC(1), nil)
	now := time.Now()

	setSource(netip.MustParseAddr("192.0.2.1"))
	r.fill(pkt)
	r.handle(l, 0, now)
	if n := len(l.queue); n != 0 {
		t.Fatalf("a packet from outside the allow-list was queued")
	}
	if v := testutil.ToFloat64(l.metrics.dropped[ProtocolUDP4][dropSource]); v != 1 {
		t.Errorf("dropped{reason=source} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(l.metrics.packets[ProtocolUDP4][resultRefused]); v != 1 {
		t.Errorf("packets{result=refused} = %v, want 1", v)
	}

	setSource(netip.MustParseAddr("10.250.0.200")) // in 10.250.0.0/24 (masked)
	r.handle(l, 0, now)
	if n := len(l.queue); n != 1 {
		t.Fatalf("the same target from an allowed sender was not admitted (queue %d)", n)
	}

	if !l.sources.allowIP(netip.MustParseAddr("::ffff:10.250.0.3")) {
		t.Error("an IPv4-mapped address in the allowed network is refused")
	}
	if l.sources.allowIP(netip.MustParseAddr("fd00::2")) || !l.sources.allowIP(netip.MustParseAddr("fd00::1")) {
		t.Error("IPv6 /128 not applied exactly")
	}
	if !l.sources.allowMAC(testMAC(100)) || l.sources.allowMAC(testMAC(101)) {
		t.Error("MAC allow-list not applied")
	}
	// No allocation on the refusal path either.
	setSource(netip.MustParseAddr("192.0.2.1"))
	if n := testing.AllocsPerRun(1000, func() { r.handle(l, 0, now) }); n != 0 {
		t.Errorf("%v allocations per refused packet", n)
	}
	if newSourceAllow(SourceFilter{}) != nil {
		t.Error("an empty filter is not 'accept everyone'")
	}
}
