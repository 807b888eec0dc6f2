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

// Package cutproxy is a TCP proxy that a test puts between a client and the
// test API server (or any TCP server), to relay connections from another
// network namespace or to cut to make the API server unreachable for that
// client alone: Cut closes every open connection and refuses new ones
// (connection refused, as when the API server is down); Restore listens
// again on the same address. The API server itself keeps running for the
// rest of the test, and TLS passes through untouched.
package cutproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/gpillon/kubevirt-wol/internal/netns"
)

// Proxy forwards TCP connections from its address to a target.
type Proxy struct {
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards to target
// ("host:port").
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return relay(ln, target), nil
}

// relay forwards the connections ln accepts to target ("host:port").
func relay(ln net.Listener, target string) *Proxy {
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	return p
}

// ListenIn listens on addr inside the network namespace netnsPath and
// relays every connection to target ("host:port") from this process: a
// test's way from a namespace to a server on the machine's network, as a
// Service is a pod's. Restore of such a proxy listens again in this
// process's namespace.
func ListenIn(netnsPath, addr, target string) (*Proxy, error) {
	var ln net.Listener
	if err := netns.Run(netnsPath, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("relaying %s in %s: %w", addr, netnsPath, err)
	}
	return relay(ln, target), nil
}

// For starts a proxy to the API server of cfg and returns it with a copy
// of cfg that goes through it.
func For(cfg *rest.Config) (*Proxy, *rest.Config, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, nil, err
	}
	p, err := Start(u.Host)
	if err != nil {
		return nil, nil, err
	}
	c, err := p.Route(cfg)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, c, nil
}

// Route returns a copy of cfg (any identity) that reaches its API server
// through the proxy. The proxy must forward to that API server.
func (p *Proxy) Route(cfg *rest.Config) (*rest.Config, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	if c.ServerName == "" {
		c.ServerName = u.Hostname() // the serving certificate names the real address
	}
	u.Host = p.addr
	c.Host = u.String()
	return c, nil
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes the listener and every connection: until Restore, clients get
// "connection refused".
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Restore listens again on the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	if p.closed || p.ln != nil {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("cutproxy: listening again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Close cuts the proxy for good and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut or Close
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) forward(in net.Conn) {
	if !p.track(in) {
		_ = in.Close()
		return
	}
	defer p.untrack(in)
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(out) {
		_ = out.Close()
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			_ = dst.Close()
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}
