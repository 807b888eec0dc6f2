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
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// BenchmarkListenerFlood floods the listener over loopback, in a private
// network namespace, with junk and duplicate magic packets (half each) and
// one valid packet for a new target in the middle, which must be delivered.
// The sender uses sendmmsg and stays at most floodWindow packets ahead of
// what the listener has classified, so nothing is lost in the socket buffer
// and the figure is the listener's own throughput. Reported:
//
//	packets/s               packets classified per second of wall time
//	cpu-ns/packet           CPU time of the whole process (listener and
//	                        sender, user and system) per packet
//	listener-cpu-ns/packet  the same without the sender's thread (the sender
//	                        is locked to its thread; on loopback that thread
//	                        also pays the kernel's receive-side processing up
//	                        to the socket queue): the listener's cost per
//	                        packet, so 1e9 / it is the rate one core sustains
//
// Run with -cpu 1 (GOMAXPROCS=1) for the one-core figure.
func BenchmarkListenerFlood(b *testing.B) {
	const floodWindow = 2048
	n := newTestNet(b)
	r := n.start(b, Config{Ports: []uint16{9}, IPv6: IPv6Disabled, DedupeWindow: time.Hour})

	rng := rand.New(rand.NewPCG(3, 4))
	payloads := junkPayloads(rng, 63)
	dup, fresh := testMAC(1), testMAC(2)
	payloads = append(payloads, wol.AppendMagic(nil, dup, nil))
	valid := wol.AppendMagic(nil, fresh, nil)
	validAt := b.N / 2

	var elapsed time.Duration
	var cpu, senderCPU int64
	err := inNS(n.listenNS, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer func() { _ = unix.Close(fd) }()
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		var hdrs [64]unix.Mmsghdr
		var iovs [64]unix.Iovec
		for i := range hdrs {
			hdrs[i].Hdr.Iov = &iovs[i]
			hdrs[i].Hdr.SetIovlen(1)
		}
		base := r.processed.Load()
		var ru0, ru1, th0, th1 unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		_ = unix.Getrusage(unix.RUSAGE_THREAD, &th0) // this goroutine is locked to its thread
		b.ResetTimer()
		start := time.Now()
		for sent := 0; sent < b.N; {
			k := min(len(hdrs), b.N-sent)
			for j := range k {
				p := payloads[(sent+j)%len(payloads)]
				if sent+j == validAt {
					p = valid
				}
				iovs[j].Base = unsafe.SliceData(p)
				iovs[j].SetLen(len(p))
				if len(p) == 0 {
					iovs[j].Base = nil
				}
			}
			for uint64(sent+k) > r.processed.Load()-base+floodWindow {
				runtime.Gosched()
			}
			m, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(k), 0, 0, 0)
			if errno != 0 {
				return fmt.Errorf("sendmmsg: %w", errno)
			}
			sent += int(m)
		}
		for deadline := time.Now().Add(time.Minute); r.processed.Load()-base < uint64(b.N); {
			if time.Now().After(deadline) {
				return fmt.Errorf("listener classified %d of %d packets", r.processed.Load()-base, b.N)
			}
			runtime.Gosched()
		}
		elapsed = time.Since(start)
		b.StopTimer()
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		_ = unix.Getrusage(unix.RUSAGE_THREAD, &th1)
		cpu = ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		senderCPU = th1.Utime.Nano() + th1.Stime.Nano() - th0.Utime.Nano() - th0.Stime.Nano()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "packets/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/packet")
	b.ReportMetric(float64(cpu-senderCPU)/float64(b.N), "listener-cpu-ns/packet")
	b.ReportMetric(0, "ns/op") // wall time per packet is the inverse of packets/s

	got := map[wol.MAC]int{}
	for len(r.rec.ch) > 0 {
		got[(<-r.rec.ch).Target]++
	}
	if got[fresh] != 1 {
		b.Fatalf("the valid wake sent during the flood was not delivered (wakes: %v)", got)
	}
	if b.N > 64 && (got[dup] != 1 || len(got) != 2) {
		b.Fatalf("duplicates produced %d wakes, want 1 (wakes: %v)", got[dup], got)
	}
}

// BenchmarkReadPath measures the listener's own per-packet work — parse,
// classify, admission, metrics — without system calls, for the packets that
// make up a flood.
func BenchmarkReadPath(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	junk := make([]byte, 300)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	for _, bc := range []struct {
		name    string
		payload []byte
	}{
		{"Junk", junk},
		{"Duplicate", wol.AppendMagic(nil, testMAC(1), nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, r := newFakeUDP(b)
			r.fill(bc.payload)
			now := time.Now() // one timestamp per received batch, amortised away here
			r.handle(l, 0, now)
			b.ReportAllocs()
			for b.Loop() {
				r.handle(l, 0, now)
			}
		})
	}
}

// BenchmarkReceiverDrain measures what one core of the listener sustains:
// rounds of packets (junk and duplicates, half each, plus one valid packet
// for a new target in the middle of the run) are queued in a bound socket
// while no one reads it, then the real read loop drains them with
// recvmmsg. Only the drain is timed; the process is idle otherwise, so
// cpu-ns/packet is the listener's cost. Run with -cpu 1.
func BenchmarkReceiverDrain(b *testing.B) {
	const round = 16384 // packets queued per round (fits a 64 MiB buffer)
	n := newTestNet(b)
	l, err := New(Config{Ports: []uint16{9}, IPv6: IPv6Disabled, DedupeWindow: time.Hour, QueueSize: 64},
		newRecorderFunc(), nil)
	if err != nil {
		b.Fatal(err)
	}
	l.stop = make(chan struct{}) // normally made by Run

	rng := rand.New(rand.NewPCG(7, 8))
	payloads := junkPayloads(rng, 63)
	dup, fresh := testMAC(1), testMAC(2)
	payloads = append(payloads, wol.AppendMagic(nil, dup, nil))
	valid := wol.AppendMagic(nil, fresh, nil)
	validAt := b.N / 2

	var sender int
	if err := inNS(n.listenNS, func() error {
		var err error
		if sender, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Connect(sender, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}})
	}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = unix.Close(sender) }()

	var hdrs [64]unix.Mmsghdr
	var iovs [64]unix.Iovec
	for i := range hdrs {
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	var drain time.Duration
	var cpu int64
	b.ResetTimer()
	b.StopTimer()
	for done := 0; done < b.N; {
		k := min(round, b.N-done)
		var rcv socket
		if err := inNS(n.listenNS, func() error {
			var err error
			rcv, err = openUDP(ProtocolUDP4, 9, 64<<20)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < k; {
			m := min(len(hdrs), k-sent)
			for j := range m {
				p := payloads[(done+sent+j)%len(payloads)]
				if done+sent+j == validAt {
					p = valid
				}
				iovs[j].Base = unsafe.SliceData(p)
				iovs[j].SetLen(len(p))
			}
			c, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(sender), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(m), 0, 0, 0)
			if errno != 0 {
				b.Fatalf("sendmmsg: %v", errno)
			}
			sent += int(c)
		}

		base := l.processed.Load()
		var ru0, ru1 unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		start := time.Now()
		b.StartTimer()
		served := make(chan struct{})
		go func() { rcv.serve(l); close(served) }()
		for l.processed.Load()-base < uint64(k) {
			time.Sleep(20 * time.Microsecond) // leave the one P to the reader
		}
		b.StopTimer()
		drain += time.Since(start)
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		cpu += ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		_ = rcv.close()
		<-served
		if got := l.processed.Load() - base; got != uint64(k) {
			b.Fatalf("read %d packets, queued %d", got, k)
		}
		done += k
	}
	b.ReportMetric(float64(b.N)/drain.Seconds(), "packets/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/packet")
	b.ReportMetric(0, "ns/op")

	got := map[wol.MAC]int{}
	for len(l.queue) > 0 {
		got[(<-l.queue).Target]++
	}
	if got[fresh] != 1 || (b.N > 64 && got[dup] != 1) {
		b.Fatalf("wakes %v: want one for the valid packet and one for the duplicates", got)
	}
}
