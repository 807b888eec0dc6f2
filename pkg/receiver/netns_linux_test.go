//go:build linux

package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Real-network test harness: two network namespaces joined by a veth pair.
//
//	listen namespace  wl0 10.250.0.1/24 fd00:250::1/64   <-veth->   ws0 10.250.0.2/24 fd00:250::2/64  send namespace
//
// The listener runs in the listen namespace (its sockets are created on a
// thread that has entered it), the senders — real wakeonlan and etherwake
// from Debian, or Go sockets — in the send namespace. Names carry the PID
// and a random suffix, so packages and tests can run in parallel; every
// namespace (and with it the veth) is deleted in t.Cleanup.

const (
	listenIf = "wl0"
	sendIf   = "ws0"
)

var (
	listenAddr  = netip.MustParseAddr("10.250.0.1")
	sendAddr    = netip.MustParseAddr("10.250.0.2")
	subnetBcast = netip.MustParseAddr("10.250.0.255")
	listenAddr6 = netip.MustParseAddr("fd00:250::1")
	sendAddr6   = netip.MustParseAddr("fd00:250::2")
)

type testNet struct {
	listenNS, sendNS string
	sendMAC          wol.MAC
	listenMAC        wol.MAC
}

// requirePrivileges fails (in CI) or skips (elsewhere) with a clear message
// when the test cannot create network namespaces.
func requirePrivileges(t testing.TB, why string) {
	t.Helper()
	msg := "needs root to create network namespaces and veth pairs (" + why + ")"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI must run these tests as root", msg)
	}
	t.Skipf("SKIPPED: %s; run as root (e.g. sudo go test) to exercise real sockets", msg)
}

// requireTool fails in CI and skips elsewhere when a sender is missing.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		msg := fmt.Sprintf("%s not found in PATH (Debian package %s)", name, name)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; .ci/run installs it", msg)
		}
		t.Skipf("SKIPPED: %s", msg)
	}
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
	if os.Geteuid() != 0 {
		requirePrivileges(t, "not running as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		requirePrivileges(t, "iproute2 'ip' not found")
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(suffix))
	n := &testNet{listenNS: "wolt-l-" + id, sendNS: "wolt-s-" + id}
	if out, err := exec.Command("ip", "netns", "add", n.listenNS).CombinedOutput(); err != nil {
		requirePrivileges(t, fmt.Sprintf("ip netns add: %v: %s", err, strings.TrimSpace(string(out))))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.listenNS).Run() })
	run(t, "ip", "netns", "add", n.sendNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.sendNS).Run() })

	l, s := n.listenNS, n.sendNS
	run(t, "ip", "-n", l, "link", "add", listenIf, "type", "veth", "peer", "name", sendIf, "netns", s)
	run(t, "ip", "-n", l, "addr", "add", listenAddr.String()+"/24", "dev", listenIf)
	run(t, "ip", "-n", l, "addr", "add", listenAddr6.String()+"/64", "dev", listenIf, "nodad")
	run(t, "ip", "-n", s, "addr", "add", sendAddr.String()+"/24", "dev", sendIf)
	run(t, "ip", "-n", s, "addr", "add", sendAddr6.String()+"/64", "dev", sendIf, "nodad")
	for _, ns := range []string{l, s} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", l, "link", "set", listenIf, "up")
	run(t, "ip", "-n", s, "link", "set", sendIf, "up")
	// wakeonlan's default destination, 255.255.255.255, needs a route.
	run(t, "ip", "-n", s, "route", "add", "default", "dev", sendIf)
	n.sendMAC = n.linkMAC(t, s, sendIf)
	n.listenMAC = n.linkMAC(t, l, listenIf)
	return n
}

func (n *testNet) linkMAC(t testing.TB, ns, ifname string) wol.MAC {
	t.Helper()
	out := strings.TrimSpace(run(t, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+ifname+"/address"))
	m, err := wol.ParseMAC(out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// inNS runs fn on a thread that has entered namespace ns. The thread is
// never returned to the scheduler: it exits with the goroutine.
func inNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with this goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// sendExec runs a sender command in the send namespace.
func (n *testNet) sendExec(t testing.TB, name string, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"netns", "exec", n.sendNS, name}, args...)...)
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
		defer c.Close()
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
		defer unix.Close(fd)
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
	out := run(t, "ip", "-n", n.listenNS, "-d", "link", "show", listenIf)
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
