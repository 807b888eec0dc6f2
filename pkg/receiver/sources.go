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
	"net/netip"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// sourceAllow is a SourceFilter prepared for the read path. A nil
// *sourceAllow accepts every sender. Checks do not allocate.
type sourceAllow struct {
	prefixes []netip.Prefix
	macs     map[wol.MAC]struct{}
}

// newSourceAllow prepares f (already validated and masked); nil when f
// accepts everyone.
func newSourceAllow(f SourceFilter) *sourceAllow {
	if f.IsZero() {
		return nil
	}
	a := &sourceAllow{prefixes: f.Prefixes, macs: make(map[wol.MAC]struct{}, len(f.MACs))}
	for _, m := range f.MACs {
		a.macs[m] = struct{}{}
	}
	return a
}

// allowIP reports whether UDP packets from ip are accepted. IPv4-mapped IPv6
// addresses count as IPv4.
func (a *sourceAllow) allowIP(ip netip.Addr) bool {
	if a == nil {
		return true
	}
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// allowMAC reports whether raw frames from mac are accepted.
func (a *sourceAllow) allowMAC(mac wol.MAC) bool {
	if a == nil {
		return true
	}
	_, ok := a.macs[mac]
	return ok
}
