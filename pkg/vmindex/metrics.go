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

package vmindex

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpillon/kubevirt-wol/pkg/promreg"
)

// Every metric of this package is documented in docs/metrics.md. None has a
// label: no MAC address or VirtualMachine name is ever a label.

type metrics struct {
	managed     prometheus.Gauge
	conflicts   prometheus.Gauge
	notWakeable prometheus.Gauge
	missing     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		managed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wol_managed_vms",
			Help: "VirtualMachines a magic packet can wake: " +
				"in scope, with a fixed MAC address that no other VirtualMachine in scope claims.",
		}),
		conflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wol_vm_mac_conflicts",
			Help: "MAC addresses claimed by two or more VirtualMachines in scope; a magic packet for one of them wakes none.",
		}),
		notWakeable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wol_vms_without_fixed_mac",
			Help: "VirtualMachines in scope that cannot be woken " +
				"because none of their interfaces has a valid fixed MAC address.",
		}),
		missing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wol_explicit_mappings_missing_vm",
			Help: "Explicit mappings whose VirtualMachine does not exist (Explicit discovery mode).",
		}),
	}
	var err error
	for _, g := range []*prometheus.Gauge{&m.managed, &m.conflicts, &m.notWakeable, &m.missing} {
		if *g, err = promreg.Register(reg, *g); err != nil {
			return nil, err
		}
	}
	return m, nil
}
