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
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// TestUDPWakeonlanEveryPort: Debian's wakeonlan, sent to the limited
// broadcast, the subnet broadcast and the listener's unicast address, on
// port 9 and on other configured ports — every port receives, and the
// origin names protocol, port, source, destination and interface.
func TestUDPWakeonlanEveryPort(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "wakeonlan")
	n := newTestNet(t)
	ports := []uint16{9, 7, 40009}
	r := n.start(t, Config{Ports: ports})

	i := 0
	for _, port := range ports {
		for _, dst := range []netip.Addr{netip.IPv4Unspecified(), subnetBcast, listenAddr} {
			i++
			mac := testMAC(i)
			if dst.IsUnspecified() {
				dst = netip.MustParseAddr("255.255.255.255")
			}
			n.sendExec(t, "wakeonlan", "-i", dst.String(), "-p", strconv.Itoa(int(port)), mac.String())
			w := r.rec.expect(t, mac)
			o := w.Origin
			if o.Protocol != ProtocolUDP4 || o.Port != port || o.Source.Addr() != sendAddr || o.Source.Port() == 0 ||
				o.Destination != dst || o.Interface != listenIf || o.IfIndex <= 0 || o.ReceivedAt.IsZero() ||
				w.HasPassword() || o.Tagged {
				t.Errorf("wakeonlan -i %s -p %d: unexpected origin %+v", dst, port, o)
			}
		}
	}
	r.rec.expectNone(t)
	if got := testutil.ToFloat64(r.metrics.packets[ProtocolUDP4][resultAccepted]); got != float64(i) {
		t.Errorf("wol_packets_total{udp4,accepted} = %v, want %d", got, i)
	}
}

// TestUDPIPv6: datagrams to the all-nodes multicast group and to the unicast
// address reach the IPv6 sockets of two ports.
func TestUDPIPv6(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	r := n.start(t, Config{Ports: []uint16{9, 7}, IPv6: IPv6Required})

	allNodes := netip.MustParseAddr("ff02::1")
	for i, dst := range []netip.AddrPort{
		netip.AddrPortFrom(allNodes.WithZone(sendIf), 9),
		netip.AddrPortFrom(listenAddr6, 7),
	} {
		mac := testMAC(100 + i)
		n.sendUDP(t, r, dst, [][]byte{wol.AppendMagic(nil, mac, nil)}, 1)
		o := r.rec.expect(t, mac).Origin
		src := o.Source.Addr()
		if o.Protocol != ProtocolUDP6 || o.Port != dst.Port() || o.Destination != dst.Addr().WithZone("") ||
			(src != sendAddr6 && !src.IsLinkLocalUnicast()) || o.Interface != listenIf {
			t.Errorf("to %s: unexpected origin %+v", dst, o)
		}
	}
}

// TestRawEtherwake: Debian's etherwake on the listener's only raw socket,
// promiscuous mode off: broadcast frames are received with their source MAC,
// SecureOn passwords of 4 and 6 bytes are parsed, and etherwake's default
// unicast frame (addressed to the target, not to this host) is dropped by
// the kernel filter even though a veth would deliver it.
func TestRawEtherwake(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "etherwake")
	n := newTestNet(t)
	r := n.start(t, Config{Raw: true, Interfaces: []string{listenIf}})

	n.sendExec(t, "etherwake", "-i", sendIf, "-b", testMAC(1).String())
	w := r.rec.expect(t, testMAC(1))
	o := w.Origin
	if o.Protocol != ProtocolRaw || o.SourceMAC != n.sendMAC || o.DestinationMAC != wol.Broadcast ||
		o.Interface != listenIf || o.IfIndex <= 0 || o.Port != 0 || o.Tagged || w.HasPassword() {
		t.Errorf("etherwake -b: unexpected wake %+v", w)
	}

	n.sendExec(t, "etherwake", "-i", sendIf, "-b", "-p", "192.168.1.4", testMAC(2).String())
	if w := r.rec.expect(t, testMAC(2)); string(w.PasswordBytes()) != "\xc0\xa8\x01\x04" {
		t.Errorf("etherwake -p 192.168.1.4: password %x", w.PasswordBytes())
	}
	n.sendExec(t, "etherwake", "-i", sendIf, "-b", "-p", "00:11:22:aa:bb:cc", testMAC(3).String())
	if w := r.rec.expect(t, testMAC(3)); string(w.PasswordBytes()) != "\x00\x11\x22\xaa\xbb\xcc" {
		t.Errorf("etherwake -p 00:11:22:aa:bb:cc: password %x", w.PasswordBytes())
	}

	// Unicast to the target's MAC, then a broadcast marker on the same path:
	// once the marker is delivered, the unicast frame would have been too.
	n.sendExec(t, "etherwake", "-i", sendIf, testMAC(4).String())
	n.sendExec(t, "etherwake", "-i", sendIf, "-b", testMAC(5).String())
	r.rec.expect(t, testMAC(5))
	r.rec.expectNone(t)
	if got := r.processed.Load(); got != 4 {
		t.Errorf("listener read %d frames, want 4: the unicast frame must not reach user space", got)
	}
	if got := n.promiscuity(t); got != "0" {
		t.Errorf("promiscuity = %s with promiscuous mode off", got)
	}
}

// TestRawPromiscuous: with promiscuous mode on, etherwake's default unicast
// frame is received, and the interface leaves promiscuous mode when the
// listener stops.
func TestRawPromiscuous(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "etherwake")
	n := newTestNet(t)
	r := n.start(t, Config{Raw: true, Interfaces: []string{listenIf}, Promiscuous: true})
	if got := n.promiscuity(t); got != "1" {
		t.Errorf("promiscuity = %s while listening promiscuously, want 1", got)
	}

	mac := testMAC(7)
	n.sendExec(t, "etherwake", "-i", sendIf, mac.String())
	w := r.rec.expect(t, mac)
	if w.Origin.DestinationMAC != mac || w.Origin.SourceMAC != n.sendMAC {
		t.Errorf("unexpected origin %+v", w.Origin)
	}

	r.stop(t)
	if got := n.promiscuity(t); got != "0" {
		t.Errorf("promiscuity = %s after stop, want 0", got)
	}
}

// TestRawAllInterfacesAndUDP: raw mode on every interface next to UDP; the
// interface name is resolved for the raw wake, and the same target arriving
// over UDP and raw within the window is a single wake.
func TestRawAllInterfacesAndUDP(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "etherwake", "wakeonlan")
	n := newTestNet(t)
	r := n.start(t, Config{Ports: []uint16{9}, Raw: true, DedupeWindow: time.Hour})

	n.sendExec(t, "etherwake", "-i", sendIf, "-b", testMAC(1).String())
	w := r.rec.expect(t, testMAC(1))
	if w.Origin.Protocol != ProtocolRaw || w.Origin.Interface != listenIf {
		t.Errorf("unexpected origin %+v", w.Origin)
	}
	n.sendExec(t, "wakeonlan", "-i", subnetBcast.String(), testMAC(1).String()) // duplicate over UDP
	n.sendExec(t, "wakeonlan", "-i", subnetBcast.String(), testMAC(2).String()) // marker
	r.rec.expect(t, testMAC(2))
	r.rec.expectNone(t)
	if got := testutil.ToFloat64(r.metrics.packets[ProtocolUDP4][resultDuplicate]); got != 1 {
		t.Errorf("wol_packets_total{udp4,duplicate} = %v, want 1", got)
	}
}

// TestRawVLAN: frames tagged by a VLAN sub-interface (the tag travels in
// metadata on veth), an inline 802.1Q tag written raw (the kernel strips it
// before packet sockets see it), and a QinQ frame (the outer tag is
// stripped, the inner one stays inline and must pass the filter's second
// branch) all yield the VLAN of the outermost tag.
func TestRawVLAN(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "etherwake")
	n := newTestNet(t)
	r := n.start(t, Config{Raw: true, Interfaces: []string{listenIf}})

	out, err := exec.Command("ip", "-n", n.send.NS, "link", "add", "link", sendIf, "name", sendIf+".100",
		"type", "vlan", "id", "100").CombinedOutput()
	if err != nil {
		// Kernels built without CONFIG_VLAN_8021Q; the raw frames below still
		// arrive with the tag in metadata.
		t.Logf("NOTE: no VLAN sub-interface (%v: %s); etherwake over a VLAN not exercised", err, bytes.TrimSpace(out))
	} else {
		run(t, "ip", "-n", n.send.NS, "link", "set", sendIf+".100", "up")
		n.sendExec(t, "etherwake", "-i", sendIf+".100", "-b", testMAC(1).String())
		if o := r.rec.expect(t, testMAC(1)).Origin; o.VLAN != 100 || !o.Tagged {
			t.Errorf("VLAN sub-interface: origin %+v, want VLAN 100", o)
		}
	}

	inline := wol.AppendFrame(nil, wol.Frame{Dst: wol.Broadcast, Src: n.sendMAC, Tagged: true, VLAN: 200,
		Packet: wol.Packet{Target: testMAC(2)}})
	qinqMAC := testMAC(3)
	qinq := append(append([]byte{}, wol.Broadcast[:]...), n.sendMAC[:]...)
	qinq = append(qinq, 0x88, 0xa8, 0x01, 0x2c) // 802.1ad S-tag, VLAN 300
	qinq = append(qinq, 0x81, 0x00, 0x01, 0x90) // 802.1Q C-tag, VLAN 400
	qinq = append(qinq, 0x08, 0x42)
	qinq = wol.AppendMagic(qinq, qinqMAC, nil)
	n.sendFrames(t, nil, sendIf, [][]byte{inline, qinq}, 0)

	if o := r.rec.expect(t, testMAC(2)).Origin; o.VLAN != 200 || !o.Tagged {
		t.Errorf("inline 802.1Q: origin %+v, want VLAN 200", o)
	}
	if o := r.rec.expect(t, qinqMAC).Origin; o.VLAN != 300 || !o.Tagged {
		t.Errorf("QinQ: origin %+v, want outer VLAN 300", o)
	}
}

// junkPayloads returns varied invalid payloads: random bytes, and near
// misses for every rejection reason.
func junkPayloads(rng *rand.Rand, count int) [][]byte {
	mismatch := wol.AppendMagic(nil, testMAC(9998), nil)
	mismatch[50] ^= 0x10
	near := [][]byte{
		nil,
		[]byte("hello"),
		wol.AppendMagic(nil, testMAC(9999), nil)[:wol.PacketLen-1],       // too short
		wol.AppendMagic(nil, wol.Broadcast, nil),                         // bad target
		wol.AppendMagic(nil, wol.MAC{0x01, 0, 0x5e, 0, 0, 1}, nil),       // multicast target
		append(make([]byte, 6), wol.AppendMagic(nil, wol.MAC{}, nil)...), // zero target
		mismatch, // one repetition of the target differs
	}
	out := make([][]byte, count)
	for i := range out {
		if i%4 == 0 {
			out[i] = near[(i/4)%len(near)]
			continue
		}
		b := make([]byte, rng.IntN(400))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		out[i] = b
	}
	return out
}

// TestFlood: tens of thousands of junk and duplicate packets over UDP and raw
// frames; afterwards a packet for a new target is still delivered, the
// duplicates produced exactly one wake, and every packet is counted once
// with its result. Sending is paced against the listener's progress, so no
// datagram is lost in a full socket buffer and the counts are exact.
func TestFlood(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	r := n.start(t, Config{Ports: []uint16{9}, Raw: true, Interfaces: []string{listenIf}, DedupeWindow: time.Hour})

	const junkUDP, dupUDP, junkRaw, dupRaw = 15000, 15000, 3000, 3000
	rng := rand.New(rand.NewPCG(1, 2))
	dup, fresh := testMAC(1), testMAC(2)
	dupPayload := wol.AppendMagic(nil, dup, nil)

	junk := junkPayloads(rng, junkUDP)
	var udp [][]byte
	for i := range junkUDP + dupUDP {
		if i%2 == 0 {
			udp = append(udp, junk[i/2])
		} else {
			udp = append(udp, dupPayload)
		}
	}
	dst := netip.AddrPortFrom(listenAddr, 9)
	n.sendUDP(t, r, dst, udp, 256)

	var frames [][]byte
	hdr := append(append(append([]byte{}, wol.Broadcast[:]...), n.sendMAC[:]...), 0x08, 0x42)
	rawJunk := junkPayloads(rng, junkRaw)
	for i := range junkRaw + dupRaw {
		if i%2 == 0 {
			frames = append(frames, append(slices.Clone(hdr), append(rawJunk[i/2], make([]byte, 46)...)...))
		} else {
			frames = append(frames, append(slices.Clone(hdr), dupPayload...))
		}
	}
	n.sendFrames(t, r, sendIf, frames, 256)
	r.waitProcessed(t, junkUDP+dupUDP+junkRaw+dupRaw)

	n.sendUDP(t, r, dst, [][]byte{wol.AppendMagic(nil, fresh, nil)}, 1)
	r.rec.expect(t, dup)
	r.rec.expect(t, fresh)
	r.rec.expectNone(t)

	counts := map[string]float64{}
	for _, p := range []Protocol{ProtocolUDP4, ProtocolRaw} {
		for res := range numResults {
			counts[p.String()+"/"+resultNames[res]] = testutil.ToFloat64(r.metrics.packets[p][res])
		}
	}
	want := map[string]float64{
		"udp4/accepted": 2, "udp4/invalid": junkUDP, "udp4/duplicate": dupUDP - 1,
		"raw/invalid": junkRaw, "raw/duplicate": dupRaw,
	}
	for k, v := range counts {
		if v != want[k] {
			t.Errorf("wol_packets_total{%s} = %v, want %v", k, v, want[k])
		}
	}
}

// TestBindErrors: a port already in use fails Run with an error naming the
// port and the reason, without readiness, and releases the ports it had
// bound; an unknown interface is named too.
func TestBindErrors(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	held, err := n.bindPlain(t, 7, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()

	l, err := New(Config{Ports: []uint16{9, 7}}, newRecorder(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = inNS(n.listenNS, func() error { return l.Run(ctx) })
	var be *BindError
	if !errors.As(err, &be) || be.Port != 7 || be.Protocol != ProtocolUDP4 || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Run error = %v, want a BindError for udp4 port 7 with EADDRINUSE", err)
	}
	for _, s := range []string{"udp4 port 7", "address already in use"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if l.Ready() || len(l.Bindings()) != 0 {
		t.Errorf("after a failed Run: Ready = %v, Bindings = %+v", l.Ready(), l.Bindings())
	}
	if _, err := n.bindPlain(t, 9, false); err != nil {
		t.Errorf("port 9 still held after the failed Run: %v", err)
	}

	// Once the port is free, the same listener can be run.
	_ = held.Close()
	done := make(chan error, 1)
	go func() { done <- inNS(n.listenNS, func() error { return l.Run(ctx) }) }()
	eventually(t, 10*time.Second, l.Ready, func() string { return "retried Run not ready" })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("retried Run = %v", err)
	}

	_, err = n.tryStart(t, Config{Ports: []uint16{9}, Raw: true, Interfaces: []string{"nope0"}})
	if err == nil || !strings.Contains(err.Error(), `"nope0"`) {
		t.Errorf("Run with an unknown interface: %v", err)
	}
}

// TestBindPermissions: without CAP_NET_BIND_SERVICE a port below 1024 fails
// with a message saying which capability is missing, and so does raw mode
// without CAP_NET_RAW (only the calling thread drops its capabilities).
func TestBindPermissions(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	for _, tc := range []struct {
		cfg   Config
		errno syscall.Errno
		hint  string
	}{
		{Config{Ports: []uint16{9}}, syscall.EACCES, "CAP_NET_BIND_SERVICE"},
		{Config{Ports: []uint16{40000}, Raw: true}, syscall.EPERM, "CAP_NET_RAW"},
	} {
		l, err := New(tc.cfg, newRecorder(), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = inNS(n.listenNS, func() error {
			if err := dropThreadCaps(unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW); err != nil {
				return fmt.Errorf("dropping capabilities: %w", err)
			}
			return l.Run(context.Background())
		})
		if !errors.Is(err, tc.errno) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("Run = %v, want %v mentioning %s", err, tc.errno, tc.hint)
		}
		if l.Ready() {
			t.Error("listener ready after a failed Run")
		}
	}
}

// dropThreadCaps removes capabilities from the calling thread only.
func dropThreadCaps(caps ...int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for _, c := range caps {
		data[c/32].Effective &^= 1 << (c % 32)
		data[c/32].Permitted &^= 1 << (c % 32)
	}
	return unix.Capset(&hdr, &data[0])
}

// TestReconfigure: ports are added and removed at run time; a port that
// cannot be bound leaves the previous set untouched; before Run only the
// configuration changes, after stop ErrStopped is returned.
func TestReconfigure(t *testing.T) {
	t.Parallel()
	netlab.Require(t, "this test", "wakeonlan")
	n := newTestNet(t)
	r := n.start(t, Config{Ports: []uint16{9}, IPv6: IPv6Disabled})

	reconfigure := func(ports ...uint16) error {
		return inNS(n.listenNS, func() error { return r.Reconfigure(ports) })
	}
	if err := reconfigure(7, 40007); err != nil {
		t.Fatal(err)
	}
	want := []Binding{{Protocol: ProtocolUDP4, Port: 7}, {Protocol: ProtocolUDP4, Port: 40007}}
	if got := r.Bindings(); !slices.Equal(got, want) {
		t.Fatalf("Bindings() = %+v, want %+v", got, want)
	}
	for i, port := range []string{"7", "40007"} {
		n.sendExec(t, "wakeonlan", "-i", subnetBcast.String(), "-p", port, testMAC(i).String())
		if w := r.rec.expect(t, testMAC(i)); w.Origin.Port != want[i].Port {
			t.Errorf("port %s: origin %+v", port, w.Origin)
		}
	}
	if _, err := n.bindPlain(t, 9, false); err != nil {
		t.Errorf("port 9 still bound after it was removed: %v", err)
	}

	held, err := n.bindPlain(t, 40008, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	err = reconfigure(7, 40008)
	var be *BindError
	if !errors.As(err, &be) || be.Port != 40008 {
		t.Fatalf("Reconfigure onto a held port = %v", err)
	}
	if got := r.Bindings(); !slices.Equal(got, want) {
		t.Fatalf("Bindings() after a failed Reconfigure = %+v, want %+v", got, want)
	}

	r.stop(t)
	if err := r.Reconfigure([]uint16{9}); !errors.Is(err, ErrStopped) {
		t.Errorf("Reconfigure after stop = %v, want ErrStopped", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Run after stop = %v, want ErrStopped", err)
	}

	// Before Run, Reconfigure only changes what Run will bind.
	l, err := New(Config{Ports: []uint16{9}, IPv6: IPv6Disabled}, newRecorder(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Reconfigure([]uint16{40010}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inNS(n.listenNS, func() error { return l.Run(ctx) }) }()
	eventually(t, 10*time.Second, l.Ready, func() string { return "not ready" })
	if got := l.Bindings(); len(got) != 1 || got[0].Port != 40010 {
		t.Errorf("Bindings() = %+v, want port 40010", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestInterfaceFilterUDP: with an interface list, datagrams arriving on
// other interfaces are dropped and counted.
func TestInterfaceFilterUDP(t *testing.T) {
	t.Parallel()
	n := newTestNet(t)
	r := n.start(t, Config{Ports: []uint16{9}, Interfaces: []string{"lo"}, IPv6: IPv6Disabled})

	n.sendUDP(t, r, netip.AddrPortFrom(listenAddr, 9), [][]byte{wol.AppendMagic(nil, testMAC(1), nil)}, 1)
	r.waitProcessed(t, 1)
	err := inNS(n.listenNS, func() error {
		c, err := net.Dial("udp4", "127.0.0.1:9")
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_, err = c.Write(wol.AppendMagic(nil, testMAC(2), nil))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := r.rec.expect(t, testMAC(2)); w.Origin.Interface != "lo" {
		t.Errorf("origin %+v, want interface lo", w.Origin)
	}
	r.rec.expectNone(t)
	if got := testutil.ToFloat64(r.metrics.dropped[ProtocolUDP4][dropInterface]); got != 1 {
		t.Errorf("wol_dropped_packets_total{udp4,interface} = %v, want 1", got)
	}
}

// TestStopNoLeak: cancelling the context closes every socket (ports can be
// bound again, promiscuous mode is left), Run returns nil, readiness drops
// and the goroutine count returns to its baseline. Not parallel: it counts
// the process's goroutines.
func TestStopNoLeak(t *testing.T) {
	netlab.Require(t, "this test", "etherwake")
	n := newTestNet(t)
	baseline := runtime.NumGoroutine()

	r := n.start(t, Config{Ports: []uint16{9, 7}, Raw: true, Interfaces: []string{listenIf}, Promiscuous: true, Workers: 8})
	if r.Check(nil) != nil || len(r.Bindings()) != 5 {
		t.Fatalf("running listener: Check = %v, Bindings = %+v", r.Check(nil), r.Bindings())
	}
	n.sendExec(t, "etherwake", "-i", sendIf, testMAC(1).String())
	r.rec.expect(t, testMAC(1))

	r.stop(t)
	if r.Ready() || r.Check(nil) == nil || len(r.Bindings()) != 0 {
		t.Errorf("stopped listener: Ready = %v, Check = %v, Bindings = %+v", r.Ready(), r.Check(nil), r.Bindings())
	}
	eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= baseline }, func() string {
		buf := make([]byte, 1<<16)
		return fmt.Sprintf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline,
			buf[:runtime.Stack(buf, true)])
	})
	for _, port := range []uint16{9, 7} {
		if _, err := n.bindPlain(t, port, false); err != nil {
			t.Errorf("port %d not released: %v", port, err)
		}
	}
	if got := n.promiscuity(t); got != "0" {
		t.Errorf("promiscuity = %s after stop", got)
	}
	if g := testutil.ToFloat64(r.metrics.sockets[ProtocolUDP4]) + testutil.ToFloat64(r.metrics.sockets[ProtocolRaw]); g != 0 {
		t.Errorf("wol_listener_sockets = %v after stop", g)
	}
}
