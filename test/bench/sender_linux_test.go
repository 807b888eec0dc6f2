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

package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// The flood's sender is this test binary run again as a child process
// (TestMain checks senderEnv), so that it can be pinned to its own CPU and
// never competes with the listener for the listener's core.

const senderEnv = "WOLBENCH_FLOOD_SENDER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(senderEnv); spec != "" {
		if err := runSender(spec); err != nil {
			fmt.Fprintln(os.Stderr, "flood sender:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctrllog.SetLogger(benchLogger())
	os.Exit(m.Run())
}

// senderSpec tells the child what to send.
type senderSpec struct {
	NetNS    string        // network namespace path ("" = the current one)
	CPU      int           // CPU to pin the sender to (-1: none)
	Port     int           // destination port on 127.0.0.1
	Source   string        // source address (a 127.0.0.0/8 address)
	Duration time.Duration // how long to send
	Rate     float64       // packets per second; 0: as fast as possible
	DupMAC   wol.MAC       // target of the duplicated magic packet
}

// floodGroup is how many datagrams of one kind are sent in a row, as one
// UDP GSO buffer (see runSender).
const floodGroup = 64

// gsoMessage is one sendmmsg message: segments of segSize bytes that the
// kernel splits into separate datagrams (UDP_SEGMENT).
type gsoMessage struct {
	buf     []byte
	segSize int
}

// floodMix returns the flood as messages of floodGroup datagrams of one
// kind, in turn: junk, duplicates and wakes for unknown MACs (a third
// each). Junk is random payloads of 1–400 bytes (one length per group) and
// near misses of every rejection reason (too short, no sync stream, a
// repetition that differs, a broadcast target); the duplicates are copies
// of one magic packet; the unknown MACs cycle through 4,096 addresses no VM
// has.
func floodMix(dup wol.MAC) []gsoMessage {
	rng := rand.New(rand.NewPCG(21, 22))
	junk := make([]gsoMessage, 0, 60+4) // random payloads, then the near misses below
	for range 60 {
		size := 1 + rng.IntN(400)
		buf := make([]byte, size*floodGroup)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		junk = append(junk, gsoMessage{buf, size})
	}
	near := wol.MAC{0x52, 0x54, 0xee, 0, 0, 1}
	short := wol.AppendMagic(nil, near, nil)[:wol.PacketLen-1]
	mismatch := wol.AppendMagic(nil, near, nil)
	mismatch[wol.PacketLen-1] ^= 0x10
	nosync := wol.AppendMagic(nil, near, nil)
	nosync[2] = 0
	bcast := wol.AppendMagic(nil, wol.Broadcast, nil)
	for _, p := range [][]byte{short, mismatch, nosync, bcast} {
		junk = append(junk, gsoMessage{bytes.Repeat(p, floodGroup), len(p)})
	}
	dupMsg := gsoMessage{bytes.Repeat(wol.AppendMagic(nil, dup, nil), floodGroup), wol.PacketLen}
	var mix []gsoMessage
	for g := range 3 * 4096 / floodGroup {
		switch g % 3 {
		case 0:
			mix = append(mix, junk[(g/3)%len(junk)])
		case 1:
			mix = append(mix, dupMsg)
		default:
			var buf []byte
			for k := range floodGroup {
				n := (g/3)*floodGroup + k
				buf = wol.AppendMagic(buf, wol.MAC{0x02, 0xbe, 0x4c, 0, byte(n >> 8), byte(n)}, nil)
			}
			mix = append(mix, gsoMessage{buf, wol.PacketLen})
		}
	}
	return mix
}

// runSender is the child: it sends the flood to 127.0.0.1:Port for
// Duration, prints "sending" when it starts and "sent N NANOS" at the end.
//
// On loopback the sending thread also runs the kernel's receive path up to
// the socket queue, so a plain sender offers at most about as many packets
// as the receiver can read. To flood the receiver harder, each sendmmsg
// message is a UDP GSO buffer (UDP_SEGMENT) of floodGroup datagrams of one
// size, which the kernel splits into separate datagrams just before the
// receiving socket's queue: the receiver sees ordinary datagrams, one per
// recvmmsg slot, and the sender pays the stack once per group.
func runSender(specJSON string) error {
	var spec senderSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	runtime.GOMAXPROCS(1)
	if spec.CPU >= 0 {
		if err := pinProcess(spec.CPU); err != nil {
			return err
		}
	}
	src, err := netip.ParseAddr(spec.Source)
	if err != nil {
		return err
	}
	var fd int
	if err := netns.Run(spec.NetNS, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			return err
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Port: spec.Port, Addr: [4]byte{127, 0, 0, 1}})
	}); err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()

	mix := floodMix(spec.DupMAC)
	const batch = 8 // messages per sendmmsg: 128 datagrams
	var hdrs [batch]unix.Mmsghdr
	var iovs [batch]unix.Iovec
	cmsgLen := unix.CmsgSpace(2)
	oobs := make([]byte, batch*cmsgLen)
	for i := range hdrs {
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
		oob := oobs[i*cmsgLen : (i+1)*cmsgLen]
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		hdrs[i].Hdr.Control = &oob[0]
		hdrs[i].Hdr.SetControllen(cmsgLen)
	}
	runtime.LockOSThread()
	fmt.Println("sending")
	start := time.Now()
	deadline := start.Add(spec.Duration)
	sent, next := 0, 0
	for {
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if spec.Rate > 0 {
			due := start.Add(time.Duration(float64(sent) / spec.Rate * 1e9))
			if now.Before(due) {
				continue // spin: this CPU is the sender's alone
			}
		}
		for j := range batch {
			m := mix[(next+j)%len(mix)]
			iovs[j].Base = &m.buf[0]
			iovs[j].SetLen(len(m.buf))
			oob := oobs[j*cmsgLen : (j+1)*cmsgLen]
			binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(m.segSize))
		}
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), batch, 0, 0, 0)
		switch errno {
		case 0:
			for j := range int(n) {
				m := mix[(next+j)%len(mix)]
				sent += len(m.buf) / m.segSize
			}
			next += int(n)
		case unix.EINTR, unix.EAGAIN, unix.ENOBUFS, unix.ECONNREFUSED:
		default:
			return fmt.Errorf("sendmmsg: %w", errno)
		}
	}
	fmt.Printf("sent %d %d\n", sent, time.Since(start).Nanoseconds())
	return nil
}

// sender is a running child.
type sender struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
}

// startSender starts the child and waits until it sends.
func startSender(b *testing.B, spec senderSpec) *sender {
	b.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), senderEnv+"="+string(data))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &sender{cmd: cmd, lines: bufio.NewScanner(out)}
	if !s.lines.Scan() || s.lines.Text() != "sending" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.Fatalf("flood sender did not start (%q)", s.lines.Text())
	}
	return s
}

// wait waits for the child to finish and returns its packet rate.
func (s *sender) wait(b *testing.B) float64 {
	b.Helper()
	var sent, nanos int64
	for s.lines.Scan() {
		if f := strings.Fields(s.lines.Text()); len(f) == 3 && f[0] == "sent" {
			sent, _ = strconv.ParseInt(f[1], 10, 64)
			nanos, _ = strconv.ParseInt(f[2], 10, 64)
		}
	}
	if err := s.cmd.Wait(); err != nil {
		b.Fatalf("flood sender: %v", err)
	}
	if nanos == 0 {
		b.Fatal("flood sender reported nothing")
	}
	return float64(sent) / (float64(nanos) / 1e9)
}

// pinProcess sets the CPU affinity of every thread of this process to cpu
// (threads created later inherit it from their creator).
func pinProcess(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return setAffinity(&set)
}

// unpinProcess lets every thread run on every online CPU again.
func unpinProcess() error {
	var set unix.CPUSet
	for i := range runtime.NumCPU() {
		set.Set(i)
	}
	return setAffinity(&set)
}

func setAffinity(set *unix.CPUSet) error {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("sched_setaffinity(%d): %w", tid, err)
		}
	}
	return nil
}

// udpRcvbufErrors returns the namespace's count of UDP datagrams dropped
// because a socket's receive buffer was full (/proc/net/snmp).
func udpRcvbufErrors(ns string) (uint64, error) {
	var v uint64
	err := netns.Run(ns, func() error {
		data, err := os.ReadFile("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		var header []string
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "Udp:" {
				continue
			}
			if header == nil {
				header = f
				continue
			}
			for i, name := range header {
				if name == "RcvbufErrors" && i < len(f) {
					v, err = strconv.ParseUint(f[i], 10, 64)
					return err
				}
			}
		}
		return fmt.Errorf("no Udp RcvbufErrors in /proc/net/snmp")
	})
	return v, err
}
