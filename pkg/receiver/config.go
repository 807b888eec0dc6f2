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
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// IPv6Mode selects whether UDP ports are also bound for IPv6.
type IPv6Mode string

const (
	// IPv6Auto binds an IPv6 socket next to each IPv4 one when the host
	// supports IPv6, and logs and carries on with IPv4 only when it does not.
	IPv6Auto IPv6Mode = "Auto"
	// IPv6Required binds IPv6 sockets and fails if the host has no IPv6.
	IPv6Required IPv6Mode = "Required"
	// IPv6Disabled binds IPv4 sockets only.
	IPv6Disabled IPv6Mode = "Disabled"
)

// Defaults applied by Config.WithDefaults to zero-valued fields. Those a
// WolConfig sets come from the API's defaults (api/v1beta1), the one source:
// the dedupe window and the rate limits (per minute there, per second here).
const (
	DefaultIPv6Mode           = IPv6Auto
	DefaultDedupeWindow       = time.Duration(wolv1beta1.DefaultDedupeWindowSeconds) * time.Second
	DefaultSourceRate         = float64(wolv1beta1.DefaultPerSourcePerMinute) / 60 // wakes per second from one source
	DefaultSourceBurst        = int(wolv1beta1.DefaultPerSourceBurst)              // wakes at once from one source
	DefaultGlobalRate         = float64(wolv1beta1.DefaultGlobalPerMinute) / 60    // wakes per second in total
	DefaultGlobalBurst        = int(wolv1beta1.DefaultGlobalBurst)                 // wakes at once in total
	DefaultMaxSources         = 4096
	DefaultWorkers            = 4
	DefaultQueueSize          = 1024
	DefaultReceiveBufferBytes = 4 << 20
)

// Limits enforced by Config.Validate.
const (
	MaxPorts              = 64
	MaxInterfaces         = 64
	MaxDedupeWindow       = time.Hour
	MaxWorkers            = 256
	MaxQueueSize          = 1 << 16
	MaxSourcesLimit       = 1 << 20
	MaxReceiveBufferBytes = 64 << 20
	MaxAllowedSources     = 1024 // per list of SourceFilter
	maxIfNameLen          = 15   // IFNAMSIZ - 1
)

// Limit is a token-bucket rate limit on admitted wakes: up to Burst at once,
// refilled at Rate per second. The zero value means "use the default".
type Limit struct {
	// Rate is the sustained number of wakes per second (> 0 once defaulted).
	Rate float64
	// Burst is the number of wakes allowed at once (>= 1 once defaulted).
	Burst int
}

// SourceFilter lists the senders whose magic packets are accepted. The zero
// value accepts every sender. When either list is not empty, a UDP packet is
// accepted only if its source address is in one of Prefixes and a raw frame
// only if its source MAC is one of MACs; an empty list then accepts nothing
// of its kind.
type SourceFilter struct {
	// Prefixes are the networks UDP packets are accepted from (a single
	// address is a /32 or /128). IPv4 packets never match IPv6 prefixes and
	// the other way round.
	Prefixes []netip.Prefix
	// MACs are the source MAC addresses raw frames are accepted from.
	MACs []wol.MAC
}

// IsZero reports whether f accepts every sender.
func (f SourceFilter) IsZero() bool { return len(f.Prefixes) == 0 && len(f.MACs) == 0 }

// Equal reports whether f and g list the same senders in the same order.
func (f SourceFilter) Equal(g SourceFilter) bool {
	return slices.Equal(f.Prefixes, g.Prefixes) && slices.Equal(f.MACs, g.MACs)
}

// Config holds the knobs of a Receiver. Zero values mean the documented
// default (see WithDefaults), except Ports, Raw, Interfaces and Promiscuous,
// which are taken as given. The API type (WolConfig) maps onto it.
type Config struct {
	// Ports are the UDP ports to receive magic packets on; every port is
	// bound for IPv4 and, depending on IPv6, for IPv6. Each must be in
	// 1..65535, without duplicates, at most MaxPorts. Empty means no UDP
	// receiver, which is only valid with Raw. Binding a port below 1024
	// needs CAP_NET_BIND_SERVICE. DefaultPorts() returns the usual {9}.
	Ports []uint16

	// IPv6 selects IPv6 reception for Ports: Auto (default), Required or
	// Disabled.
	IPv6 IPv6Mode

	// Raw enables the AF_PACKET receiver for Ethernet frames with ethertype
	// 0x0842 (what etherwake sends). It needs CAP_NET_RAW; without Raw the
	// listener needs no raw-socket capability. Default false.
	Raw bool

	// Interfaces, when not empty, restricts reception to these interface
	// names: the raw receiver binds one socket per listed interface instead
	// of one for all interfaces, and UDP datagrams arriving on any other
	// interface are dropped (reason "interface"). Every name must exist when
	// the listener starts. Empty (default) means all interfaces.
	Interfaces []string

	// Promiscuous puts the listed Interfaces in promiscuous mode for as long
	// as the raw sockets are open and accepts frames addressed to other
	// stations (PACKET_OTHERHOST). That is needed to hear etherwake's default
	// unicast frames, which are addressed to the stopped VM's own MAC rather
	// than to the node. Off by default: then such frames are dropped by the
	// kernel filter on every driver (a veth would otherwise deliver them). It
	// requires Raw and a non-empty Interfaces list, so that promiscuous mode
	// is never switched on for every interface of a node.
	Promiscuous bool

	// AllowedSources, when not empty, is the allow-list of senders (see
	// SourceFilter). Packets from any other sender are dropped before
	// admission (result "refused", reason "source"), so they consume no
	// dedupe entry and no rate-limit token. Prefixes are masked to their
	// length. Empty (default) accepts every sender. At most
	// MaxAllowedSources entries per list.
	AllowedSources SourceFilter

	// DedupeWindow is how long after an admitted wake further magic packets
	// with the same target and password are dropped as duplicates, whatever
	// port or protocol they arrive on. Default 5s; at most MaxDedupeWindow.
	DedupeWindow time.Duration

	// SourceLimit limits the wakes admitted from one source (IP address for
	// UDP, MAC address for raw frames). Default 5/s with a burst of 20.
	SourceLimit Limit

	// GlobalLimit limits the wakes admitted in total. Default 50/s with a
	// burst of 100.
	GlobalLimit Limit

	// MaxSources bounds the table of per-source limiters. Entries of sources
	// that have been idle long enough to refill are evicted when it is full;
	// if none can be, a new source is refused (reason "rate_limit_source").
	// Default 4096.
	MaxSources int

	// Workers is the number of goroutines that call the WakeHandler.
	// Default 4, at most MaxWorkers.
	Workers int

	// QueueSize is the capacity of the queue between the readers and the
	// workers; a wake that finds it full is dropped (reason "queue_full").
	// Default 1024, at most MaxQueueSize.
	QueueSize int

	// ReceiveBufferBytes is the socket receive buffer requested for every
	// socket (SO_RCVBUFFORCE when permitted, else SO_RCVBUF, which the
	// kernel caps at net.core.rmem_max). Default 4 MiB.
	ReceiveBufferBytes int

	// Logger receives structured logs (constant messages, key/value pairs);
	// no packet is logged on a drop path. The zero value discards.
	Logger logr.Logger
}

// DefaultPorts returns the conventional Wake-on-LAN UDP port list, the API's
// default: {9}.
func DefaultPorts() []uint16 {
	defaults := wolv1beta1.DefaultWolPorts()
	ports := make([]uint16, 0, len(defaults))
	for _, p := range defaults {
		ports = append(ports, uint16(p))
	}
	return ports
}

// WithDefaults returns a copy of c with every zero-valued defaultable field
// set to its default. Slices are copied.
func (c Config) WithDefaults() Config {
	c.Ports = slices.Clone(c.Ports)
	c.Interfaces = slices.Clone(c.Interfaces)
	c.AllowedSources.Prefixes = slices.Clone(c.AllowedSources.Prefixes)
	for i, p := range c.AllowedSources.Prefixes {
		c.AllowedSources.Prefixes[i] = p.Masked()
	}
	c.AllowedSources.MACs = slices.Clone(c.AllowedSources.MACs)
	if c.IPv6 == "" {
		c.IPv6 = DefaultIPv6Mode
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = DefaultDedupeWindow
	}
	if c.SourceLimit.Rate == 0 {
		c.SourceLimit.Rate = DefaultSourceRate
	}
	if c.SourceLimit.Burst == 0 {
		c.SourceLimit.Burst = DefaultSourceBurst
	}
	if c.GlobalLimit.Rate == 0 {
		c.GlobalLimit.Rate = DefaultGlobalRate
	}
	if c.GlobalLimit.Burst == 0 {
		c.GlobalLimit.Burst = DefaultGlobalBurst
	}
	if c.MaxSources == 0 {
		c.MaxSources = DefaultMaxSources
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.ReceiveBufferBytes == 0 {
		c.ReceiveBufferBytes = DefaultReceiveBufferBytes
	}
	return c
}

// Validate reports every invalid field of c (zero values count as valid:
// they mean the default). The returned error joins one error per problem,
// each naming the field.
func (c Config) Validate() error {
	var p problems
	if err := validatePorts(c.Ports); err != nil {
		p = append(p, err)
	}
	if len(c.Ports) == 0 && !c.Raw {
		p.add("ports", "at least one UDP port is required unless raw mode is enabled")
	}
	switch c.IPv6 {
	case "", IPv6Auto, IPv6Required, IPv6Disabled:
	default:
		p.add("ipv6", "must be %q, %q or %q, not %q", IPv6Auto, IPv6Required, IPv6Disabled, c.IPv6)
	}
	c.validateInterfaces(&p)
	c.validateAllowedSources(&p)
	c.validateLimits(&p)
	return errors.Join(p...)
}

// problems collects the errors of Validate, one per problem.
type problems []error

// add records a problem with field.
func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// validateInterfaces checks the interfaces and the promiscuous mode, which
// needs them.
func (c Config) validateInterfaces(p *problems) {
	if len(c.Interfaces) > MaxInterfaces {
		p.add("interfaces", "at most %d interfaces, got %d", MaxInterfaces, len(c.Interfaces))
	}
	seen := make(map[string]bool, len(c.Interfaces))
	for i, name := range c.Interfaces {
		switch {
		case name == "" || len(name) > maxIfNameLen:
			p.add(fmt.Sprintf("interfaces[%d]", i), "interface name must be 1 to %d characters", maxIfNameLen)
		case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n"):
			p.add(fmt.Sprintf("interfaces[%d]", i), "%q is not a valid interface name", name)
		case seen[name]:
			p.add(fmt.Sprintf("interfaces[%d]", i), "duplicate interface %q", name)
		}
		seen[name] = true
	}
	if c.Promiscuous && !c.Raw {
		p.add("promiscuous", "requires raw mode")
	}
	if c.Promiscuous && len(c.Interfaces) == 0 {
		p.add("promiscuous", "requires an explicit interfaces list")
	}
}

// validateAllowedSources checks the source filter.
func (c Config) validateAllowedSources(p *problems) {
	if n := len(c.AllowedSources.Prefixes); n > MaxAllowedSources {
		p.add("allowedSources.cidrs", "at most %d entries, got %d", MaxAllowedSources, n)
	}
	for i, prefix := range c.AllowedSources.Prefixes {
		if !prefix.IsValid() {
			p.add(fmt.Sprintf("allowedSources.cidrs[%d]", i), "not a valid IP prefix")
		}
	}
	if n := len(c.AllowedSources.MACs); n > MaxAllowedSources {
		p.add("allowedSources.macs", "at most %d entries, got %d", MaxAllowedSources, n)
	}
	for i, m := range c.AllowedSources.MACs {
		if !m.IsUnicast() {
			p.add(fmt.Sprintf("allowedSources.macs[%d]", i), "%s is not a unicast MAC address", m)
		}
	}
}

// validateLimits checks the dedupe window, the rate limits and the sizes.
func (c Config) validateLimits(p *problems) {
	if c.DedupeWindow < 0 || c.DedupeWindow > MaxDedupeWindow {
		p.add("dedupeWindow", "must be between 0 (default %s) and %s, got %s",
			DefaultDedupeWindow, MaxDedupeWindow, c.DedupeWindow)
	}
	for _, l := range []struct {
		name string
		lim  Limit
	}{{"sourceLimit", c.SourceLimit}, {"globalLimit", c.GlobalLimit}} {
		if math.IsNaN(l.lim.Rate) || math.IsInf(l.lim.Rate, 0) || l.lim.Rate < 0 {
			p.add(l.name+".rate", "must be a finite number >= 0, got %v", l.lim.Rate)
		}
		if l.lim.Burst < 0 {
			p.add(l.name+".burst", "must be >= 0, got %d", l.lim.Burst)
		}
	}
	checkRange := func(field string, v, maxV int) {
		if v < 0 || v > maxV {
			p.add(field, "must be between 0 (default) and %d, got %d", maxV, v)
		}
	}
	checkRange("maxSources", c.MaxSources, MaxSourcesLimit)
	checkRange("workers", c.Workers, MaxWorkers)
	checkRange("queueSize", c.QueueSize, MaxQueueSize)
	checkRange("receiveBufferBytes", c.ReceiveBufferBytes, MaxReceiveBufferBytes)
}

func validatePorts(ports []uint16) error {
	var errs []error
	if len(ports) > MaxPorts {
		errs = append(errs, fmt.Errorf("ports: at most %d ports, got %d", MaxPorts, len(ports)))
	}
	seen := make(map[uint16]bool, len(ports))
	for i, p := range ports {
		switch {
		case p == 0:
			errs = append(errs, fmt.Errorf("ports[%d]: port must be between 1 and 65535", i))
		case seen[p]:
			errs = append(errs, fmt.Errorf("ports[%d]: duplicate port %d", i, p))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}
