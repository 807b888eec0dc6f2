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

// Package netlab builds a small LAN out of network namespaces for tests and
// the demo: one namespace holding a Linux bridge (the switch) and one
// namespace per host, each joined to the bridge by a veth pair, with
// addresses 10.250.0.x/24 and fd00:250::x/64 that exist only inside those
// namespaces. Real WoL senders (Debian's wakeonlan, etherwake) run in a host
// namespace with `ip netns exec`; listeners open their packet sockets in
// another one.
//
// It is also the one gate of every test that needs root (Require): in CI
// such a test fails when it cannot run; elsewhere it fails with a hint to
// run `sudo make test`, or is skipped, and says so, with SKIP_PRIVILEGED=1.
package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Subnet is the LAN's IPv4 subnet; hosts get .1, .2, ... in order.
var Subnet = netip.MustParsePrefix("10.250.0.0/24")

// Broadcast is the LAN's directed broadcast address.
var Broadcast = netip.MustParseAddr("10.250.0.255")

// Subnet6 is the LAN's IPv6 subnet (unique local); hosts get ::1, ::2, ...
var Subnet6 = netip.MustParsePrefix("fd00:250::/64")

// Iface is the name of each host's interface on the LAN.
const Iface = "lan0"

// Host is one namespace on the LAN.
type Host struct {
	// Name is the host's name in the LAN.
	Name string
	// NS is the network namespace's name (for `ip netns exec`).
	NS string
	// IP is the host's IPv4 address on the LAN.
	IP netip.Addr
	// IP6 is the host's IPv6 address on the LAN.
	IP6 netip.Addr
	// MAC is the MAC address of the host's interface.
	MAC wol.MAC
}

// Path is the namespace's path, as accepted by setns(2).
func (h *Host) Path() string { return filepath.Join("/run/netns", h.NS) }

// LAN is a bridge namespace plus the host namespaces attached to it.
type LAN struct {
	id     string
	bridge string
	hosts  map[string]*Host
	order  []string
}

// Problem reports why the LAN cannot be built here, or a command of tools
// (Debian's WoL senders, say) run: not root, no iproute2, a tool not
// installed. It returns "" if nothing is missing.
func Problem(tools ...string) string {
	if os.Geteuid() != 0 {
		return "needs root to create network namespaces and veth pairs"
	}
	for _, name := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(name); err != nil {
			pkg := name
			if name == "ip" {
				pkg = "iproute2"
			}
			return fmt.Sprintf("needs %s, not found in PATH (Debian package %s; .ci/run installs it)", name, pkg)
		}
	}
	return ""
}

// Unavailable says whether a test that needs root (and tools) can run here.
// It returns "" when it can; otherwise the message to stop it with, and
// whether to skip it (SKIP_PRIVILEGED=1 outside CI) rather than fail. In
// CI, and by default elsewhere, it fails: a run that silently skips what
// matters is not a passing run.
func Unavailable(what string, tools ...string) (msg string, skip bool) {
	p := Problem(tools...)
	if p == "" {
		return "", false
	}
	switch {
	case os.Getenv("CI") != "":
		return fmt.Sprintf("%s %s; CI must run it", what, p), false
	case os.Getenv("SKIP_PRIVILEGED") != "":
		return fmt.Sprintf("SKIPPED (SKIP_PRIVILEGED is set): %s %s", what, p), true
	}
	return fmt.Sprintf("%s %s: run `sudo make test` (or, to run only what needs no root, SKIP_PRIVILEGED=1 make test)", what, p), false
}

// Require stops t when Unavailable says so: it fails it, or skips it with
// SKIP_PRIVILEGED=1.
func Require(t testing.TB, what string, tools ...string) {
	t.Helper()
	if msg, skip := Unavailable(what, tools...); msg != "" {
		if skip {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
}

// New creates a LAN with one namespace per host name. Call Close to remove
// every namespace (and with them the links).
func New(hosts ...string) (*LAN, error) {
	if p := Problem(); p != "" {
		return nil, fmt.Errorf("netlab: %s", p)
	}
	if len(hosts) == 0 || len(hosts) > 200 {
		return nil, fmt.Errorf("netlab: between 1 and 200 hosts, not %d", len(hosts))
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	l := &LAN{id: fmt.Sprintf("%d%s", os.Getpid()%100000, hex.EncodeToString(suffix)), hosts: map[string]*Host{}}
	l.bridge = "wolsw-" + l.id
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	if err := ip("netns", "add", l.bridge); err != nil {
		return nil, err
	}
	if err := ipIn(l.bridge, "link", "add", "br0", "type", "bridge"); err != nil {
		return nil, err
	}
	if err := ipIn(l.bridge, "link", "set", "br0", "up"); err != nil {
		return nil, err
	}
	addr, addr6 := Subnet.Addr().Next(), Subnet6.Addr().Next()
	for i, name := range hosts {
		h := &Host{Name: name, NS: fmt.Sprintf("wol%s-%s", name, l.id), IP: addr, IP6: addr6}
		addr, addr6 = addr.Next(), addr6.Next()
		if len(h.NS) > 64 {
			return nil, fmt.Errorf("netlab: host name %q too long", name)
		}
		port := fmt.Sprintf("p%d", i)
		if err := ip("netns", "add", h.NS); err != nil {
			return nil, err
		}
		// The namespace exists: from now on Close removes it.
		l.hosts[name] = h
		l.order = append(l.order, name)
		// The first command that fails skips the others.
		var err error
		in := func(ns string, args ...string) {
			if err == nil {
				err = ipIn(ns, args...)
			}
		}
		in(l.bridge, "link", "add", port, "type", "veth", "peer", "name", Iface, "netns", h.NS)
		in(l.bridge, "link", "set", port, "master", "br0")
		in(l.bridge, "link", "set", port, "up")
		in(h.NS, "addr", "add", h.IP.String()+"/24", "dev", Iface)
		// No duplicate address detection: the address is usable at once.
		in(h.NS, "addr", "add", h.IP6.String()+"/64", "dev", Iface, "nodad")
		in(h.NS, "link", "set", "lo", "up")
		in(h.NS, "link", "set", Iface, "up")
		// wakeonlan's default destination, 255.255.255.255, needs a route.
		in(h.NS, "route", "add", "default", "dev", Iface)
		if err != nil {
			return nil, err
		}
		out, err := exec.Command("ip", "netns", "exec", h.NS, "cat", "/sys/class/net/"+Iface+"/address").Output()
		if err != nil {
			return nil, fmt.Errorf("netlab: reading %s's MAC: %w", name, err)
		}
		if h.MAC, err = wol.ParseMAC(strings.TrimSpace(string(out))); err != nil {
			return nil, err
		}
	}
	ok = true
	return l, nil
}

// Host returns the host called name (nil if none).
func (l *LAN) Host(name string) *Host { return l.hosts[name] }

// Exec runs a command in the host's namespace and returns its combined
// output.
func (l *LAN) Exec(host string, name string, args ...string) (string, error) {
	h := l.hosts[host]
	if h == nil {
		return "", fmt.Errorf("netlab: no host %q", host)
	}
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), host, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Namespaces names every namespace of the LAN (hosts and bridge), for a
// later `ip netns del` by another process.
func (l *LAN) Namespaces() []string {
	names := make([]string, 0, 1+len(l.order))
	names = append(names, l.bridge)
	for _, name := range l.order {
		names = append(names, l.hosts[name].NS)
	}
	return names
}

// Close deletes every namespace of the LAN.
func (l *LAN) Close() {
	for _, name := range l.order {
		_ = exec.Command("ip", "netns", "del", l.hosts[name].NS).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.bridge).Run()
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func ipIn(ns string, args ...string) error { return ip(append([]string{"-n", ns}, args...)...) }

// DialContext connects from the host's namespace, as a program running on
// that host would; the connection can then be used from any goroutine. It
// fits http.Transport.DialContext.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := netns.Run(h.Path(), func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
