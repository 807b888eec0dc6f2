package receiver

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// testMAC returns a distinct unicast, locally administered MAC.
func testMAC(i int) wol.MAC { return wol.MAC{0x02, 0x57, 0x4f, 0x4c, byte(i >> 8), byte(i)} }

// value reads a counter or gauge (prometheus/testutil is not used: it needs
// a module this project does not require).
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	panic("not a counter or gauge")
}
