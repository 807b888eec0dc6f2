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
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Real-network test harness: a LAN of two network namespaces (netlab), the
// listener's and the sender's, joined by a bridge.
//
//	listen  lan0 10.250.0.1/24 fd00:250::1/64  <-bridge->  lan0 10.250.0.2/24 fd00:250::2/64  send
//
// The receiver runs in the listen namespace (its sockets are created on a
// thread that has entered it), the senders — real wakeonlan and etherwake
// from Debian, or Go sockets — in the send namespace. Every namespace is
// deleted in t.Cleanup.

const (
	listenIf = netlab.Iface
	sendIf   = netlab.Iface
)

var (
	listenAddr  = netlab.Subnet.Addr().Next()
	sendAddr    = listenAddr.Next()
	subnetBcast = netlab.Broadcast
	listenAddr6 = netlab.Subnet6.Addr().Next()
	sendAddr6   = listenAddr6.Next()
)

type testNet struct {
	lan              *netlab.LAN
	listen, send     *netlab.Host
	sendMAC          wol.MAC
	listenMAC        wol.MAC
	listenNS, sendNS string // paths, for netns.Run
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTestNet(t testing.TB) *testNet {
	t.Helper()
	netlab.Require(t, "this test of real sockets")
	lan, err := netlab.New("listen", "send")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lan.Close)
	n := &testNet{lan: lan, listen: lan.Host("listen"), send: lan.Host("send")}
	n.listenNS, n.sendNS = n.listen.Path(), n.send.Path()
	n.sendMAC, n.listenMAC = n.send.MAC, n.listen.MAC
	if n.listen.IP != listenAddr || n.send.IP != sendAddr || n.listen.IP6 != listenAddr6 || n.send.IP6 != sendAddr6 {
		t.Fatalf("netlab gave addresses %v %v %v %v", n.listen.IP, n.send.IP, n.listen.IP6, n.send.IP6)
	}
	return n
}

// inNS runs fn in the network namespace at path.
func inNS(path string, fn func() error) error { return netns.Run(path, fn) }

// sendExec runs a sender command in the send namespace.
func (n *testNet) sendExec(t testing.TB, name string, args ...string) {
	t.Helper()
	if _, err := n.lan.Exec("send", name, args...); err != nil {
		t.Fatal(err)
	}
}

// running is a listener started in the listen namespace.
type running struct {
	*Receiver
	reg    *prometheus.Registry
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// start runs a listener in the listen namespace and waits until it is ready; it is
// stopped in t.Cleanup. If Run fails the test fails.
func (n *testNet) start(t testing.TB, cfg Config) *running {
	t.Helper()
	r, err := n.tryStart(t, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// tryStart is start returning Run's error instead of failing the test.
// Unless cfg sets Workers, one worker is used: wakes read from one socket
// are then delivered in order, which the tests use as a barrier ("the marker
// sent after X arrived, so X would have arrived before it").
func (n *testNet) tryStart(t testing.TB, cfg Config) (*running, error) {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	l, err := New(cfg, rec, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Receiver: l, reg: reg, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- inNS(n.listenNS, func() error { return l.Run(ctx) }) }()
	deadline := time.After(10 * time.Second)
	for !l.Ready() {
		select {
		case err := <-r.done:
			cancel()
			return nil, err
		case <-deadline:
			cancel()
			t.Fatal("listener not ready after 10s")
		case <-time.After(2 * time.Millisecond):
		}
	}
	t.Cleanup(func() { r.stop(t) })
	return r, nil
}

// stop cancels Run and waits for it to return (idempotent).
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
}

// waitProcessed waits until the listener has classified at least n packets.
func (r *running) waitProcessed(t testing.TB, n uint64) {
	t.Helper()
	eventually(t, 20*time.Second, func() bool { return r.processed.Load() >= n },
		func() string { return fmt.Sprintf("processed %d packets, want %d", r.processed.Load(), n) })
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, what())
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder is a WakeHandler that records every wake.
type recorder struct{ ch chan Wake }

func newRecorder() *recorder { return &recorder{ch: make(chan Wake, 4096)} }

func (r *recorder) HandleWake(_ context.Context, w Wake) error {
	r.ch <- w
	return nil
}

// next returns the next wake, failing the test after a timeout.
func (r *recorder) next(t testing.TB) Wake {
	t.Helper()
	select {
	case w := <-r.ch:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("no wake delivered within 10s")
		return Wake{}
	}
}

// expect returns the next wake and checks its target.
func (r *recorder) expect(t testing.TB, target wol.MAC) Wake {
	t.Helper()
	w := r.next(t)
	if w.Target != target {
		t.Fatalf("wake for %v, want %v (origin %+v)", w.Target, target, w.Origin)
	}
	return w
}

// expectNone checks that no wake is pending.
func (r *recorder) expectNone(t testing.TB) {
	t.Helper()
	select {
	case w := <-r.ch:
		t.Fatalf("unexpected wake for %v (origin %+v)", w.Target, w.Origin)
	default:
	}
}

// sendUDP sends payloads from the send namespace to dst, keeping at most
// window packets ahead of what the listener has classified so that no
// datagram is lost in a full socket buffer (deterministic counts).
func (n *testNet) sendUDP(t testing.TB, r *running, dst netip.AddrPort, payloads [][]byte, window uint64) {
	t.Helper()
	start := r.processed.Load()
	err := inNS(n.sendNS, func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		return paced(r, start, len(payloads), window, func(i int) error {
			_, err := c.Write(payloads[i])
			return err
		})
	})
	if err != nil {
		t.Fatalf("sending UDP: %v", err)
	}
}

// sendFrames writes raw Ethernet frames on ifname in the send namespace,
// paced like sendUDP (r may be nil for no pacing).
func (n *testNet) sendFrames(t testing.TB, r *running, ifname string, frames [][]byte, window uint64) {
	t.Helper()
	var start uint64
	if r != nil {
		start = r.processed.Load()
	}
	err := inNS(n.sendNS, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer func() { _ = unix.Close(fd) }()
		return paced(r, start, len(frames), window, func(i int) error {
			sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
			copy(sa.Addr[:], frames[i][:6])
			return unix.Sendto(fd, frames[i], 0, sa)
		})
	})
	if err != nil {
		t.Fatalf("sending frames: %v", err)
	}
}

func paced(r *running, start uint64, count int, window uint64, send func(i int) error) error {
	deadline := time.Now().Add(60 * time.Second)
	for i := range count {
		for r != nil && uint64(i) > r.processed.Load()-start+window {
			if time.Now().After(deadline) {
				return fmt.Errorf("listener stalled at %d of %d packets", r.processed.Load()-start, i)
			}
			runtime.Gosched()
		}
		if err := send(i); err != nil {
			return err
		}
	}
	return nil
}

// promiscuity returns the promiscuity counter of the listen-side veth.
func (n *testNet) promiscuity(t testing.TB) string {
	t.Helper()
	out := run(t, "ip", "-n", n.listen.NS, "-d", "link", "show", listenIf)
	f := strings.Fields(out[strings.Index(out, "promiscuity"):])
	return f[1]
}

// bindPlain binds a UDP port in the listen namespace without SO_REUSEADDR
// or SO_REUSEPORT; it succeeds only if no socket holds the port. The socket
// is returned open (close it) when keep is true.
func (n *testNet) bindPlain(t testing.TB, port uint16, keep bool) (net.PacketConn, error) {
	t.Helper()
	var pc net.PacketConn
	err := inNS(n.listenNS, func() error {
		var err error
		pc, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err == nil && !keep {
		_ = pc.Close()
	}
	return pc, err
}
