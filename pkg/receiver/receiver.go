package receiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
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

// Reconfigure changes the set of UDP ports without a restart. Before Run it
// only replaces the configured ports. While running it binds the new ports
// first — if any fails, it closes what it just bound and returns the errors,
// leaving the previous set untouched — then closes the ports no longer
// listed; ports in both sets keep their sockets. After Run has returned it
// returns ErrStopped. New sockets are created in the network namespace of the
// calling thread.
func (l *Receiver) Reconfigure(ports []uint16) error {
	if err := validatePorts(ports); err != nil {
		return fmt.Errorf("listener: invalid ports: %w", err)
	}
	if len(ports) == 0 && !l.cfg.Raw {
		return errors.New("listener: invalid ports: at least one UDP port is required unless raw mode is enabled")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state {
	case stateIdle:
		l.ports = slices.Clone(ports)
		return nil
	case stateStopped:
		return ErrStopped
	}

	added := make(map[uint16][]socket)
	var errs []error
	for _, p := range ports {
		if _, ok := l.udp[p]; ok {
			continue
		}
		rs, err := l.bindPort(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added[p] = rs
	}
	if len(errs) > 0 {
		for _, rs := range added {
			for _, r := range rs {
				_ = r.close()
			}
		}
		return errors.Join(errs...)
	}
	for p, rs := range l.udp {
		if !slices.Contains(ports, p) {
			l.closeReceivers(rs)
			delete(l.udp, p)
		}
	}
	for p, rs := range added {
		l.udp[p] = rs
		for _, r := range rs {
			l.startReader(r)
		}
	}
	l.ports = slices.Clone(ports)
	l.log.Info("UDP ports reconfigured", "ports", ports)
	return nil
}

// bindAll opens every socket of the configuration; l.mu is held.
func (l *Receiver) bindAll() error {
	if err := l.names.snapshot(); err != nil {
		l.log.Error(err, "Listing network interfaces failed; interface names will be resolved on demand")
	}
	var errs []error
	ifindexes := make([]int, 0, len(l.cfg.Interfaces))
	for _, name := range l.cfg.Interfaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener: interface %q: %w", name, err))
			continue
		}
		ifindexes = append(ifindexes, ifi.Index)
	}
	if len(errs) > 0 {
		l.metrics.errors[stageBind].Add(float64(len(errs)))
		return errors.Join(errs...)
	}
	if len(ifindexes) > 0 {
		l.ifFilter.Store(&ifSet{idx: ifindexes})
	}

	for _, p := range l.ports {
		rs, err := l.bindPort(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.udp[p] = rs
	}
	if l.cfg.Raw {
		if len(ifindexes) == 0 {
			r, err := l.openRaw("", 0)
			if err != nil {
				errs = append(errs, err)
			} else {
				l.raw = append(l.raw, r)
			}
		}
		for i, idx := range ifindexes {
			r, err := l.openRaw(l.cfg.Interfaces[i], idx)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l.raw = append(l.raw, r)
		}
	}
	if len(errs) > 0 {
		for p, rs := range l.udp {
			for _, r := range rs {
				_ = r.close()
			}
			delete(l.udp, p)
		}
		for _, r := range l.raw {
			_ = r.close()
		}
		l.raw = nil
		return errors.Join(errs...)
	}
	return nil
}

// bindPort opens the IPv4 and, if enabled and available, IPv6 socket of a
// UDP port; l.mu is held.
func (l *Receiver) bindPort(port uint16) ([]socket, error) {
	r4, err := openUDP(ProtocolUDP4, port, l.cfg.ReceiveBufferBytes)
	if err != nil {
		l.metrics.errors[stageBind].Inc()
		return nil, &BindError{Protocol: ProtocolUDP4, Port: port, Err: err}
	}
	if l.cfg.IPv6 == IPv6Disabled || l.noIPv6 {
		return []socket{r4}, nil
	}
	r6, err := openUDP(ProtocolUDP6, port, l.cfg.ReceiveBufferBytes)
	if err == nil {
		return []socket{r4, r6}, nil
	}
	if l.cfg.IPv6 == IPv6Auto && ipv6Unavailable(err) {
		l.noIPv6 = true
		l.log.Info("IPv6 is unavailable on this host; receiving IPv4 only", "error", err.Error())
		return []socket{r4}, nil
	}
	_ = r4.close()
	l.metrics.errors[stageBind].Inc()
	return nil, &BindError{Protocol: ProtocolUDP6, Port: port, Err: err}
}

func ipv6Unavailable(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
}

func (l *Receiver) openRaw(ifname string, ifindex int) (socket, error) {
	r, err := openRaw(ifname, ifindex, l.cfg.Promiscuous, l.cfg.ReceiveBufferBytes)
	if err != nil {
		l.metrics.errors[stageBind].Inc()
		return nil, &BindError{Protocol: ProtocolRaw, Interface: ifname, Err: err}
	}
	return r, nil
}

// startReader starts the read loop of r; l.mu is held and the state is
// running, so the WaitGroup is never added to while Run waits on it.
func (l *Receiver) startReader(r socket) {
	b := r.binding()
	l.metrics.sockets[b.Protocol].Inc()
	l.readers.Go(func() { r.serve(l) })
	l.log.Info("Socket bound", "protocol", b.Protocol.String(), "port", b.Port, "interface", b.Interface)
}

func (l *Receiver) closeReceivers(rs []socket) {
	for _, r := range rs {
		b := r.binding()
		if err := r.close(); err != nil {
			l.log.Error(err, "Closing socket failed", "protocol", b.Protocol.String(), "port", b.Port)
		}
		l.metrics.sockets[b.Protocol].Dec()
	}
}

// readFailed counts and logs a receive error, then waits with a growing
// delay so that a persistent error cannot spin. It returns false if the
// listener stops meanwhile.
func (l *Receiver) readFailed(b Binding, err error, delay *time.Duration) bool {
	l.metrics.errors[stageRead].Inc()
	l.log.Error(err, "Receiving packets failed", "protocol", b.Protocol.String(), "port", b.Port,
		"interface", b.Interface)
	*delay = min(max(2**delay, 10*time.Millisecond), time.Second)
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// offer runs the admission step for a valid packet received at now; w is
// filled by a reader and copied into the queue, so no buffer is shared with
// a worker.
func (l *Receiver) offer(w *Wake, src sourceKey, now time.Time) {
	w.Origin.ReceivedAt = now
	v := l.adm.admit(int64(now.Sub(l.epoch)), w, src, l.queue)
	l.metrics.verdict(w.Origin.Protocol, v)
	if v == verdictAccepted {
		if log := l.log.V(1); log.Enabled() {
			log.Info("Wake queued", "target", w.Target.String(), "protocol", w.Origin.Protocol.String(),
				"port", w.Origin.Port, "source", w.Origin.Source.String(), "sourceMAC", w.Origin.SourceMAC.String())
		}
	}
}

func (l *Receiver) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-l.queue:
			l.metrics.queue.Dec()
			if w.Origin.Interface == "" && w.Origin.IfIndex > 0 {
				w.Origin.Interface = l.names.name(w.Origin.IfIndex)
			}
			l.handle(ctx, w)
		}
	}
}

func (l *Receiver) handle(ctx context.Context, w Wake) {
	defer func() {
		if p := recover(); p != nil {
			l.metrics.errors[stageHandler].Inc()
			l.log.Error(fmt.Errorf("panic: %v", p), "Wake handler panicked", "target", w.Target.String())
		}
	}()
	if err := l.handler.HandleWake(ctx, w); err != nil {
		l.metrics.errors[stageHandler].Inc()
		l.log.Error(err, "Wake handler failed", "target", w.Target.String(), "protocol", w.Origin.Protocol.String())
	}
}

// ifSet is a small immutable set of interface indexes.
type ifSet struct{ idx []int }

func (s *ifSet) has(i int) bool { return slices.Contains(s.idx, i) }

// ifNames caches interface index to name. It is filled when Run binds (in
// the listener's network namespace) and on demand for unknown indexes.
type ifNames struct {
	mu sync.RWMutex
	m  map[int]string
}

func (n *ifNames) snapshot() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	m := make(map[int]string, len(ifs))
	for _, ifi := range ifs {
		m[ifi.Index] = ifi.Name
	}
	n.mu.Lock()
	n.m = m
	n.mu.Unlock()
	return nil
}

func (n *ifNames) name(idx int) string {
	n.mu.RLock()
	name, ok := n.m[idx]
	n.mu.RUnlock()
	if ok {
		return name
	}
	ifi, err := net.InterfaceByIndex(idx)
	if err != nil {
		return ""
	}
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[int]string)
	}
	n.m[idx] = ifi.Name
	n.mu.Unlock()
	return ifi.Name
}
