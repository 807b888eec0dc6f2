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
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Binding describes one bound socket.
type Binding struct {
	// Protocol is udp4, udp6 or raw.
	Protocol Protocol
	// Port is the UDP port (0 for raw).
	Port uint16
	// Interface is the interface a raw socket is bound to ("" = all).
	Interface string
}

// socket is one bound socket with its read loop (see socket_linux.go).
type socket interface {
	binding() Binding
	// serve reads until the socket is closed.
	serve(l *Receiver)
	// close closes the socket; serve then returns.
	close() error
}

type runState uint8

const (
	stateIdle runState = iota
	stateRunning
	stateStopped
)

// Receiver receives magic packets and delivers admitted wakes to a
// WakeHandler. Create it with New and start it with Run.
type Receiver struct {
	cfg     Config
	log     logr.Logger
	handler WakeHandler
	metrics *metrics
	adm     *admitter
	queue   chan Wake
	epoch   time.Time
	names   ifNames
	sources *sourceAllow // nil: every sender

	ready     atomic.Bool
	processed atomic.Uint64         // packets taken from sockets and classified
	ifFilter  atomic.Pointer[ifSet] // UDP arrival-interface filter; nil means all

	mu      sync.Mutex // guards the fields below
	state   runState
	ports   []uint16
	udp     map[uint16][]socket
	raw     []socket
	noIPv6  bool          // IPv6 found unavailable in Auto mode
	stop    chan struct{} // closed when Run begins to stop
	readers sync.WaitGroup
}

// New checks cfg (see Config.Validate), applies its defaults and returns a
// Receiver that will deliver wakes to handler. Metrics are registered on reg
// (nil: not registered); collectors already registered there by a previous
// Receiver are reused. New opens no socket.
func New(cfg Config, handler WakeHandler, reg prometheus.Registerer) (*Receiver, error) {
	if handler == nil {
		return nil, errors.New("listener: nil WakeHandler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("listener: invalid configuration: %w", err)
	}
	cfg = cfg.WithDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("listener: registering metrics: %w", err)
	}
	l := &Receiver{
		cfg:     cfg,
		log:     cfg.Logger,
		handler: handler,
		metrics: m,
		queue:   make(chan Wake, cfg.QueueSize),
		epoch:   time.Now(),
		ports:   slices.Clone(cfg.Ports),
		udp:     make(map[uint16][]socket),
		sources: newSourceAllow(cfg.AllowedSources),
	}
	l.adm = newAdmitter(cfg, 0)
	l.adm.queued = m.queue
	return l, nil
}

// Run binds every socket, then serves until ctx is cancelled. Sockets are
// created in the network namespace of the calling goroutine's thread.
//
// If any socket cannot be bound, Run closes the others and returns an error
// joining one *BindError per failure (naming the protocol, port or
// interface, and the reason), without becoming ready; Run may then be called
// again (after Reconfigure, or once the port is free). Otherwise it marks the
// listener ready and, when ctx is done, closes every socket, waits for all
// its goroutines (readers and workers) to return and returns nil. Wakes
// still queued at that point are dropped. A Receiver that has served cannot
// be run again (ErrStopped).
func (l *Receiver) Run(ctx context.Context) error {
	l.mu.Lock()
	switch l.state {
	case stateRunning:
		l.mu.Unlock()
		return errors.New("listener: Run called twice")
	case stateStopped:
		l.mu.Unlock()
		return ErrStopped
	}
	if err := l.bindAll(); err != nil {
		l.mu.Unlock()
		return err // still idle: Run may be retried
	}
	l.state = stateRunning
	l.stop = make(chan struct{})
	ports := slices.Clone(l.ports)
	for _, rs := range l.udp {
		for _, r := range rs {
			l.startReader(r)
		}
	}
	for _, r := range l.raw {
		l.startReader(r)
	}
	l.mu.Unlock()

	var workers sync.WaitGroup
	for range l.cfg.Workers {
		workers.Go(func() { l.work(ctx) })
	}
	l.ready.Store(true)
	l.log.Info("Receiver ready", "ports", ports, "raw", l.cfg.Raw, "interfaces", l.cfg.Interfaces,
		"promiscuous", l.cfg.Promiscuous, "allowedCIDRs", len(l.cfg.AllowedSources.Prefixes),
		"allowedMACs", len(l.cfg.AllowedSources.MACs), "allowEverySource", l.sources == nil)

	<-ctx.Done()

	l.ready.Store(false)
	l.mu.Lock()
	l.state = stateStopped
	close(l.stop)
	for port, rs := range l.udp {
		l.closeReceivers(rs)
		delete(l.udp, port)
	}
	l.closeReceivers(l.raw)
	l.raw = nil
	l.mu.Unlock()

	l.readers.Wait()
	workers.Wait()
	for len(l.queue) > 0 {
		<-l.queue
		l.metrics.queue.Dec()
	}
	l.log.Info("Receiver stopped")
	return nil
}

// Ready reports whether every configured socket is bound and being read.
func (l *Receiver) Ready() bool { return l.ready.Load() }

// Check is a readiness check in the shape of controller-runtime's
// healthz.Checker: nil once every socket is bound, an error before and
// after.
func (l *Receiver) Check(_ *http.Request) error {
	if !l.Ready() {
		return errors.New("wol listener: sockets not bound")
	}
	return nil
}

// Bindings returns the sockets currently bound, UDP ones by port first.
func (l *Receiver) Bindings() []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var bs []Binding
	ports := make([]uint16, 0, len(l.udp))
	for p := range l.udp {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	for _, p := range ports {
		for _, r := range l.udp[p] {
			bs = append(bs, r.binding())
		}
	}
	for _, r := range l.raw {
		bs = append(bs, r.binding())
	}
	return bs
}
