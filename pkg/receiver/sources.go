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
