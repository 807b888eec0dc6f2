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
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{name: "default ports", cfg: Config{Ports: DefaultPorts()}},
		{name: "raw only", cfg: Config{Raw: true}},
		{name: "everything set", cfg: Config{Ports: []uint16{9, 7}, IPv6: IPv6Required, Raw: true,
			Interfaces: []string{"eth0", "br-ex.100"}, Promiscuous: true, DedupeWindow: time.Minute,
			SourceLimit: Limit{Rate: 0.5, Burst: 1}, GlobalLimit: Limit{Rate: 1000, Burst: 1000},
			MaxSources: 10, Workers: 1, QueueSize: 1, ReceiveBufferBytes: 1 << 20}},
		{name: "nothing to listen on", cfg: Config{}, want: []string{"ports: at least one UDP port"}},
		{name: "port 0", cfg: Config{Ports: []uint16{9, 0}}, want: []string{"ports[1]: port must be between 1 and 65535"}},
		{name: "duplicate port", cfg: Config{Ports: []uint16{9, 7, 9}}, want: []string{"ports[2]: duplicate port 9"}},
		{name: "too many ports", cfg: Config{Ports: make65(MaxPorts + 1)}, want: []string{"ports: at most 64"}},
		{name: "bad ipv6 mode", cfg: Config{Ports: []uint16{9}, IPv6: "auto"}, want: []string{`ipv6: must be "Auto"`}},
		{name: "bad interface names", cfg: Config{Raw: true, Interfaces: []string{"", "a/b", "eth0", "eth0", "abcdefghijklmnop"}},
			want: []string{"interfaces[0]", "interfaces[1]", "interfaces[3]: duplicate", "interfaces[4]"}},
		{name: "promiscuous without raw", cfg: Config{Ports: []uint16{9}, Interfaces: []string{"eth0"}, Promiscuous: true},
			want: []string{"promiscuous: requires raw mode"}},
		{name: "promiscuous on all interfaces", cfg: Config{Raw: true, Promiscuous: true},
			want: []string{"promiscuous: requires an explicit interfaces list"}},
		{name: "negative window", cfg: Config{Ports: []uint16{9}, DedupeWindow: -time.Second}, want: []string{"dedupeWindow"}},
		{name: "huge window", cfg: Config{Ports: []uint16{9}, DedupeWindow: 2 * time.Hour}, want: []string{"dedupeWindow"}},
		{name: "bad limits", cfg: Config{Ports: []uint16{9}, SourceLimit: Limit{Rate: math.NaN(), Burst: -1},
			GlobalLimit: Limit{Rate: math.Inf(1)}},
			want: []string{"sourceLimit.rate", "sourceLimit.burst", "globalLimit.rate"}},
		{name: "allow-lists", cfg: Config{Ports: []uint16{9}, AllowedSources: SourceFilter{
			Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/64")},
			MACs:     []wol.MAC{testMAC(1)}}}},
		{name: "bad allow-lists", cfg: Config{Ports: []uint16{9}, AllowedSources: SourceFilter{
			Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}},
			MACs:     []wol.MAC{testMAC(1), wol.Broadcast}}},
			want: []string{"allowedSources.cidrs[1]: not a valid IP prefix", "allowedSources.macs[1]: ff:ff:ff:ff:ff:ff is not a unicast"}},
		{name: "allow-lists too long", cfg: Config{Ports: []uint16{9}, AllowedSources: SourceFilter{
			Prefixes: make([]netip.Prefix, MaxAllowedSources+1), MACs: make([]wol.MAC, MaxAllowedSources+1)}},
			want: []string{"allowedSources.cidrs: at most 1024", "allowedSources.macs: at most 1024"}},
		{name: "bad sizes", cfg: Config{Ports: []uint16{9}, Workers: MaxWorkers + 1, QueueSize: -1, MaxSources: -1,
			ReceiveBufferBytes: MaxReceiveBufferBytes + 1},
			want: []string{"workers", "queueSize", "maxSources", "receiveBufferBytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, missing %q", err, w)
				}
			}
			if _, nerr := New(tc.cfg, newRecorderFunc(), nil); nerr == nil {
				t.Error("New accepted an invalid configuration")
			}
		})
	}
}

func make65(n int) []uint16 {
	ports := make([]uint16, n)
	for i := range ports {
		ports[i] = uint16(1000 + i)
	}
	return ports
}

func TestConfigWithDefaults(t *testing.T) {
	in := Config{Ports: []uint16{9}}
	got := in.WithDefaults()
	if got.IPv6 != IPv6Auto || got.DedupeWindow != DefaultDedupeWindow ||
		got.SourceLimit != (Limit{DefaultSourceRate, DefaultSourceBurst}) ||
		got.GlobalLimit != (Limit{DefaultGlobalRate, DefaultGlobalBurst}) ||
		got.MaxSources != DefaultMaxSources || got.Workers != DefaultWorkers || got.QueueSize != DefaultQueueSize ||
		got.ReceiveBufferBytes != DefaultReceiveBufferBytes ||
		got.Raw || got.Promiscuous || len(got.Interfaces) != 0 {
		t.Fatalf("WithDefaults() = %+v", got)
	}
	got.Ports[0] = 7
	if in.Ports[0] != 9 {
		t.Fatal("WithDefaults shares the Ports slice")
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	set := Config{Ports: []uint16{9}, DedupeWindow: time.Second, Workers: 2}.WithDefaults()
	if set.DedupeWindow != time.Second || set.Workers != 2 {
		t.Fatalf("WithDefaults overrode set fields: %+v", set)
	}
}

func TestNewRejectsNilHandler(t *testing.T) {
	if _, err := New(Config{Ports: []uint16{9}}, nil, nil); err == nil {
		t.Fatal("New accepted a nil handler")
	}
}
