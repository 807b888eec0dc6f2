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

package node

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"

	"github.com/gpillon/kubevirt-wol/internal/netns"
)

// forwarder accepts TCP connections in the node's namespace and forwards
// them to the API server in the machine's: the node's way to the control
// plane, standing in for the network between a node and its API server.
type forwarder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// startForwarder gives the node's namespace the API server's advertised
// address (on its loopback interface: no dummy interface module here) and
// forwards its port there to the API
// server at host (a URL reachable from this process).
func (n *Node) startForwarder(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	port, err := apiServerPort(host)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", n.opts.APIServerIP.String() + "/32", "dev", "lo"},
	} {
		cmd := exec.Command("nsenter", append([]string{"--net=" + n.opts.NetNS, "--", "ip"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("node: ip %s in %s: %w: %s", strings.Join(args, " "), n.opts.NetNS, err, out)
		}
	}
	f := &forwarder{target: u.Host, conns: map[net.Conn]struct{}{}}
	if err := netns.Run(n.opts.NetNS, func() (err error) {
		f.ln, err = net.Listen("tcp", net.JoinHostPort(n.opts.APIServerIP.String(), port))
		return err
	}); err != nil {
		return fmt.Errorf("node: forwarding the API server into %s: %w", n.opts.NetNS, err)
	}
	n.fwd = f
	f.wg.Add(1)
	go f.serve()
	return nil
}

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.forward(in)
	}
}

func (f *forwarder) track(c net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case add && f.closed:
		_ = c.Close()
	case add:
		f.conns[c] = struct{}{}
	default:
		delete(f.conns, c)
	}
}

func (f *forwarder) forward(in net.Conn) {
	defer f.wg.Done()
	defer func() { _ = in.Close() }()
	out, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	defer func() { _ = out.Close() }()
	f.track(in, true)
	f.track(out, true)
	defer f.track(in, false)
	defer f.track(out, false)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(out, in)
	go cp(in, out)
	<-done
	<-done
}

// close stops accepting, closes every connection and waits.
func (f *forwarder) close() {
	if f == nil {
		return
	}
	_ = f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
