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

package listenerapp

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// ReceiverConfig maps a WolConfig spec onto the packet receiver's settings.
// Zero values (fields the API server would have defaulted) keep the
// engine's defaults, which are the same. It fails on an allowed source the
// API server should have refused, rather than dropping it (which could turn
// an allow-list into "allow everyone").
func ReceiverConfig(spec wolv1beta1.WolConfigSpec, log logr.Logger) (receiver.Config, error) {
	cfg := receiver.Config{
		Raw:         spec.RawEthernet.Enabled,
		Promiscuous: spec.RawEthernet.Promiscuous,
		Interfaces:  slices.Clone(spec.Interfaces),
		Logger:      log,
	}
	for _, p := range spec.WolPorts {
		cfg.Ports = append(cfg.Ports, uint16(p))
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = receiver.DefaultPorts()
	}
	if spec.DedupeWindowSeconds != nil {
		cfg.DedupeWindow = time.Duration(*spec.DedupeWindowSeconds) * time.Second
	}
	rl := spec.RateLimit
	cfg.SourceLimit = receiver.Limit{Rate: float64(rl.PerSourcePerMinute) / 60, Burst: int(rl.PerSourceBurst)}
	cfg.GlobalLimit = receiver.Limit{Rate: float64(rl.GlobalPerMinute) / 60, Burst: int(rl.GlobalBurst)}
	var errs []error
	for i, c := range spec.AllowedSources.CIDRs {
		p, err := parseSource(string(c))
		if err != nil {
			errs = append(errs, fmt.Errorf("allowedSources.cidrs[%d]: %w", i, err))
			continue
		}
		cfg.AllowedSources.Prefixes = append(cfg.AllowedSources.Prefixes, p)
	}
	for i, m := range spec.AllowedSources.MACs {
		mac, err := wol.ParseMAC(string(m))
		if err != nil {
			errs = append(errs, fmt.Errorf("allowedSources.macs[%d]: %w", i, err))
			continue
		}
		cfg.AllowedSources.MACs = append(cfg.AllowedSources.MACs, mac)
	}
	return cfg, errors.Join(errs...)
}

// parseSource reads an address ("192.0.2.7", a /32 or /128) or a network
// ("192.0.2.0/24", host bits ignored).
func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmappedBits(p.Addr())).Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: an address with a zone cannot be matched", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmappedBits is how many prefix bits an IPv4-mapped IPv6 address loses
// when it is unmapped.
func unmappedBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// applyBy is how a running listener applies a change of one field of its
// receiver.Config.
type applyBy uint8

const (
	// restartEngine: stop the packet engine and start a new one (its
	// sockets, filters and queues are built from the field).
	restartEngine applyBy = iota + 1
	// rebind: bind the new ports and close the old ones in place.
	rebind
	// ignore: not a packet setting (the logger).
	ignore
)

// receiverFields says, for every field of receiver.Config, how a change is
// applied. TestEveryReceiverFieldHasADecision fails when a field is added to
// receiver.Config without an entry here, so a new setting cannot be ignored
// by mistake.
var receiverFields = map[string]applyBy{
	"Ports":              rebind,
	"IPv6":               restartEngine,
	"Raw":                restartEngine,
	"Interfaces":         restartEngine,
	"Promiscuous":        restartEngine,
	"AllowedSources":     restartEngine,
	"DedupeWindow":       restartEngine,
	"SourceLimit":        restartEngine,
	"GlobalLimit":        restartEngine,
	"MaxSources":         restartEngine,
	"Workers":            restartEngine,
	"QueueSize":          restartEngine,
	"ReceiveBufferBytes": restartEngine,
	"Logger":             ignore,
}

// changeOf says how to go from a to b: nothing, a rebind of the ports alone,
// or a restart of the packet engine. A field missing from receiverFields
// restarts it.
func changeOf(a, b receiver.Config) applyBy {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	change := ignore
	for i := range va.NumField() {
		by, ok := receiverFields[va.Type().Field(i).Name]
		if !ok {
			by = restartEngine
		}
		if by == ignore || reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		if by == restartEngine {
			return restartEngine
		}
		change = rebind
	}
	return change
}
