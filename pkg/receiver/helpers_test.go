package receiver

import (
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// testMAC returns a distinct unicast, locally administered MAC.
func testMAC(i int) wol.MAC { return wol.MAC{0x02, 0x57, 0x4f, 0x4c, byte(i >> 8), byte(i)} }
