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
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
)

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
