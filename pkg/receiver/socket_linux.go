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
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const (
	batchSize = 32   // datagrams per recvmmsg call
	bufSize   = 2048 // per datagram; larger ones are truncated (a packet is found within 1500 bytes)
	oobSize   = 128  // ancillary data per datagram: one pktinfo or auxdata message
)

// batch holds the buffers of one socket's reader: recvmmsg fills up to
// batchSize datagrams per system call. Only the reader goroutine touches it.
type batch struct {
	hdrs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrAny
	oobs  [batchSize][oobSize]byte
	bufs  [batchSize][bufSize]byte

	dirty int        // headers modified by the last call
	n     int        // result of the last call
	errno unix.Errno // error of the last call
	recv  func(fd uintptr) bool
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.hdrs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(bufSize)
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Control = &b.oobs[i][0]
	}
	b.dirty = batchSize
	b.recv = b.recvmmsg // bound once: passing it to RawConn.Read does not allocate
	return b
}

// recvmmsg is called by the runtime poller; returning false means "would
// block, call again when readable".
func (b *batch) recvmmsg(fd uintptr) bool {
	for i := range b.dirty {
		h := &b.hdrs[i]
		h.Hdr.Namelen = unix.SizeofSockaddrAny
		h.Hdr.SetControllen(oobSize)
		h.Hdr.Flags = 0
		h.Len = 0
	}
	b.dirty = 0
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize,
			unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			b.n, b.errno, b.dirty = int(n), 0, int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.n, b.errno = 0, errno
			return true
		}
	}
}

// read blocks until at least one datagram is available and returns how many
// were received.
func (b *batch) read(rc syscall.RawConn) (int, error) {
	if err := rc.Read(b.recv); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", b.errno)
	}
	return b.n, nil
}

func (b *batch) data(i int) []byte { return b.bufs[i][:min(int(b.hdrs[i].Len), bufSize)] }

func (b *batch) oob(i int) []byte {
	return b.oobs[i][:min(int(b.hdrs[i].Hdr.Controllen), oobSize)]
}

// serveLoop is the read loop shared by UDP and raw receivers.
// The datagrams of one batch share one timestamp: they were all taken from
// the socket by the same system call.
func serveLoop(l *Receiver, bind Binding, rc syscall.RawConn, b *batch, closed *atomic.Bool,
	handle func(i int, now time.Time)) {
	var delay time.Duration
	for {
		n, err := b.read(rc)
		if err != nil {
			if closed.Load() || !l.readFailed(bind, err, &delay) {
				return
			}
			continue
		}
		delay = 0
		now := time.Now()
		for i := range n {
			handle(i, now)
		}
		l.processed.Add(uint64(n))
	}
}

// udpReceiver reads one UDP socket (one port, one address family).
type udpReceiver struct {
	proto  Protocol
	port   uint16
	conn   *net.UDPConn
	rc     syscall.RawConn
	b      *batch
	closed atomic.Bool
}

func openUDP(proto Protocol, port uint16, rcvbuf int) (socket, error) {
	network, addr := "udp4", "0.0.0.0:"+strconv.Itoa(int(port))
	if proto == ProtocolUDP6 {
		network, addr = "udp6", "[::]:"+strconv.Itoa(int(port)) // Go sets IPV6_V6ONLY for udp6
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var optErr error
		if err := c.Control(func(fd uintptr) { optErr = setUDPOptions(int(fd), proto, rcvbuf) }); err != nil {
			return err
		}
		return optErr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	rc, err := conn.SyscallConn()
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &udpReceiver{proto: proto, port: port, conn: conn, rc: rc, b: newBatch()}, nil
}

// setUDPOptions runs before bind. SO_REUSEADDR and SO_REUSEPORT let a
// second listener (a rolling update, another configuration using the same
// port) bind the port too; broadcast datagrams reach every such socket.
func setUDPOptions(fd int, proto Protocol, rcvbuf int) error {
	opts := []struct {
		level, opt int
		name       string
	}{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR"},
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, "SO_REUSEPORT"},
	}
	if proto == ProtocolUDP4 {
		opts = append(opts,
			struct {
				level, opt int
				name       string
			}{unix.SOL_SOCKET, unix.SO_BROADCAST, "SO_BROADCAST"},
			struct {
				level, opt int
				name       string
			}{unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO"})
	} else {
		opts = append(opts, struct {
			level, opt int
			name       string
		}{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, 1); err != nil {
			return os.NewSyscallError("setsockopt "+o.name, err)
		}
	}
	setReceiveBuffer(fd, rcvbuf)
	return nil
}

// setReceiveBuffer asks for rcvbuf bytes: SO_RCVBUFFORCE (needs
// CAP_NET_ADMIN) can exceed net.core.rmem_max, SO_RCVBUF is capped by it.
// Best effort: the kernel default still works.
func setReceiveBuffer(fd, rcvbuf int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
}

func (r *udpReceiver) binding() Binding { return Binding{Protocol: r.proto, Port: r.port} }

func (r *udpReceiver) close() error {
	r.closed.Store(true)
	return r.conn.Close()
}

func (r *udpReceiver) serve(l *Receiver) {
	serveLoop(l, r.binding(), r.rc, r.b, &r.closed, func(i int, now time.Time) { r.handle(l, i, now) })
}

func (r *udpReceiver) handle(l *Receiver, i int, now time.Time) {
	p, err := wol.ParsePayload(r.b.data(i))
	if err != nil {
		l.metrics.invalid(r.proto, wol.ReasonOf(err))
		return
	}
	w := Wake{Packet: p, Origin: Origin{Protocol: r.proto, Port: r.port}}
	w.Origin.Source = sockaddrAddrPort(&r.b.names[i])
	w.Origin.IfIndex, w.Origin.Destination = parsePktinfo(r.b.oob(i))
	if f := l.ifFilter.Load(); f != nil && !f.has(w.Origin.IfIndex) {
		l.metrics.drop(r.proto, resultFiltered, dropInterface)
		return
	}
	if !l.sources.allowIP(w.Origin.Source.Addr()) {
		l.metrics.drop(r.proto, resultRefused, dropSource)
		return
	}
	l.offer(&w, sourceKey{ip: w.Origin.Source.Addr()}, now)
}

// sockaddrAddrPort converts a received sockaddr_in or sockaddr_in6 without
// allocating. IPv6 zones are left out (they would need a name lookup).
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), binary.BigEndian.Uint16(port[:]))
	case unix.AF_INET6:
		sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := (*[2]byte)(unsafe.Pointer(&sa6.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa6.Addr), binary.BigEndian.Uint16(port[:]))
	}
	return netip.AddrPort{}
}

// nextCmsg splits the first control message off b.
func nextCmsg(b []byte) (level, typ int32, data, rest []byte, ok bool) {
	const ptrSize = int(unsafe.Sizeof(uintptr(0))) // cmsg_len is a size_t
	if len(b) < unix.SizeofCmsghdr {
		return 0, 0, nil, nil, false
	}
	var n uint64
	if ptrSize == 8 {
		n = binary.NativeEndian.Uint64(b)
	} else {
		n = uint64(binary.NativeEndian.Uint32(b))
	}
	hdr := unix.CmsgLen(0)
	if n < uint64(hdr) || n > uint64(len(b)) {
		return 0, 0, nil, nil, false
	}
	level = int32(binary.NativeEndian.Uint32(b[ptrSize:]))
	typ = int32(binary.NativeEndian.Uint32(b[ptrSize+4:]))
	data = b[hdr:n]
	if next := unix.CmsgSpace(int(n) - hdr); next < len(b) {
		rest = b[next:]
	}
	return level, typ, data, rest, true
}

// parsePktinfo returns the arrival interface and the destination address
// from an IP_PKTINFO or IPV6_PKTINFO control message.
func parsePktinfo(oob []byte) (ifindex int, dst netip.Addr) {
	for len(oob) > 0 {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			break
		}
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
			return int(int32(binary.NativeEndian.Uint32(data))), netip.AddrFrom4([4]byte(data[8:12]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr ipi6_addr; unsigned int ipi6_ifindex; }
			return int(binary.NativeEndian.Uint32(data[16:])), netip.AddrFrom16([16]byte(data[:16]))
		}
		oob = rest
	}
	return 0, netip.Addr{}
}

// parseAuxVLAN returns the VLAN TCI the kernel stripped from a frame, from
// a PACKET_AUXDATA control message.
func parseAuxVLAN(oob []byte) (tci uint16, ok bool) {
	for len(oob) > 0 {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			break
		}
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && len(data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			// struct tpacket_auxdata { u32 status, len, snaplen; u16 mac, net, vlan_tci, vlan_tpid; }
			if binary.NativeEndian.Uint32(data)&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, false
			}
			return binary.NativeEndian.Uint16(data[16:]), true
		}
		oob = rest
	}
	return 0, false
}

// rawReceiver reads one AF_PACKET socket (one interface, or all).
type rawReceiver struct {
	ifname  string
	ifindex int
	file    *os.File
	rc      syscall.RawConn
	b       *batch
	closed  atomic.Bool
}

// etherTypeFilter is the part of the kernel filter that inspects the frame:
// accept ethertype 0x0842, directly or behind one 802.1Q tag. A tag the
// driver or the kernel stripped into metadata (the usual case on receive:
// the core untags 802.1Q and 802.1ad before packet taps run) is not in the
// data, so such frames match the first test; an inner tag of a QinQ frame
// stays inline and matches the second.
var etherTypeFilter = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: wol.EtherType, SkipTrue: 4},        // → accept
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: wol.EtherTypeVLAN, SkipTrue: 2}, // → drop
	bpf.LoadAbsolute{Off: 16, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: wol.EtherType, SkipTrue: 1}, // → accept
	bpf.RetConstant{Val: 0},                                          // drop
	bpf.RetConstant{Val: 0x40000},                                    // accept the whole frame
}

// wolFilter returns the classic BPF program attached to raw sockets. It
// drops frames this host is sending (PACKET_OUTGOING) and, unless
// acceptOtherHost, frames addressed to another station (PACKET_OTHERHOST),
// by loading the packet type (SKF_AD_PKTTYPE); then applies etherTypeFilter.
// Dropping PACKET_OTHERHOST in the filter makes "promiscuous off" behave the
// same on every driver: a physical NIC drops such frames in hardware, but a
// veth or a bridge port hands them to packet sockets anyway.
func wolFilter(acceptOtherHost bool) ([]bpf.RawInstruction, error) {
	head := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtType}}
	types := []uint32{unix.PACKET_OUTGOING}
	if !acceptOtherHost {
		types = append(types, unix.PACKET_OTHERHOST)
	}
	dropAt := 1 + len(types) + len(etherTypeFilter) - 2 // index of "drop" in the whole program
	for _, t := range types {
		skip := dropAt - len(head) - 1
		head = append(head, bpf.JumpIf{Cond: bpf.JumpEqual, Val: t, SkipTrue: uint8(skip)})
	}
	return bpf.Assemble(append(head, etherTypeFilter...))
}

func openRaw(ifname string, ifindex int, promisc bool, rcvbuf int) (_ socket, err error) {
	// Protocol 0: the socket receives nothing until bind, so no frame gets
	// in before the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	ownFD := true // until an os.File owns it
	defer func() {
		if err != nil && ownFD {
			_ = unix.Close(fd)
		}
	}()
	prog, err := wolFilter(promisc)
	if err != nil {
		return nil, err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return nil, os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return nil, os.NewSyscallError("setsockopt PACKET_AUXDATA", err)
	}
	setReceiveBuffer(fd, rcvbuf)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	if promisc {
		// Membership is dropped by the kernel when the socket closes.
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, os.NewSyscallError("setsockopt PACKET_ADD_MEMBERSHIP", err)
		}
	}
	file := os.NewFile(uintptr(fd), "packet:"+ifname) // non-blocking fd: served by the runtime poller
	ownFD = false
	rc, err := file.SyscallConn()
	if err != nil {
		_ = file.Close()
		return nil, err
	}
	return &rawReceiver{ifname: ifname, ifindex: ifindex, file: file, rc: rc, b: newBatch()}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (r *rawReceiver) binding() Binding { return Binding{Protocol: ProtocolRaw, Interface: r.ifname} }

func (r *rawReceiver) close() error {
	r.closed.Store(true)
	return r.file.Close()
}

func (r *rawReceiver) serve(l *Receiver) {
	serveLoop(l, r.binding(), r.rc, r.b, &r.closed, func(i int, now time.Time) { r.handle(l, i, now) })
}

func (r *rawReceiver) handle(l *Receiver, i int, now time.Time) {
	f, err := wol.ParseFrame(r.b.data(i))
	if err != nil {
		l.metrics.invalid(ProtocolRaw, wol.ReasonOf(err))
		return
	}
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&r.b.names[i]))
	w := Wake{Packet: f.Packet, Origin: Origin{
		Protocol:       ProtocolRaw,
		SourceMAC:      f.Src,
		DestinationMAC: f.Dst,
		IfIndex:        int(sll.Ifindex),
		Interface:      r.ifname,
		VLAN:           f.VLAN,
		Tagged:         f.Tagged,
	}}
	if tci, ok := parseAuxVLAN(r.b.oob(i)); ok {
		w.Origin.VLAN, w.Origin.Tagged = tci&0x0fff, true
	}
	if !l.sources.allowMAC(f.Src) {
		l.metrics.drop(ProtocolRaw, resultRefused, dropSource)
		return
	}
	l.offer(&w, sourceKey{mac: f.Src}, now)
}
