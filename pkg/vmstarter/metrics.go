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

package vmstarter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpillon/kubevirt-wol/pkg/promreg"
)

// Every metric of this package is documented in docs/metrics.md. Label
// values come from fixed sets; no VM name or address is ever a label.

// retry is why a Start call evaluated the VirtualMachine again (label
// "reason").
type retry uint8

const (
	retryConflict  retry = iota // a write lost a race (409, failed JSON-patch test, "already underway")
	retryStopping               // the VirtualMachine was stopping
	retryTransient              // a transient API error (timeout, 429, 5xx)
	numRetries
)

var retryNames = [numRetries]string{"conflict", "stopping", "transient"}

type metrics struct {
	started  [len(pathNames)]prometheus.Counter
	outcomes [numOutcomes]prometheus.Counter
	retries  [numRetries]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	started := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_vm_started_total",
		Help: "VirtualMachines started by a magic packet: start requests this listener made and KubeVirt accepted, " +
			"by path (subresource, direct). A VirtualMachine that was already running or starting is not counted.",
	}, []string{"path"})
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_vm_start_outcomes_total",
		Help: "Wake requests handled by the VM starter, by outcome " +
			"(started, unpaused, already_running, already_starting, refused, not_found, failed).",
	}, []string{"outcome"})
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_vm_start_retries_total",
		Help: "Times the VM starter evaluated a VirtualMachine again, by reason " +
			"(conflict: lost a race with another writer; stopping: waited for a stopping VirtualMachine; " +
			"transient: transient API error).",
	}, []string{"reason"})
	if reg != nil {
		var err error
		if started, err = promreg.Register(reg, started); err != nil {
			return nil, err
		}
		if outcomes, err = promreg.Register(reg, outcomes); err != nil {
			return nil, err
		}
		if retries, err = promreg.Register(reg, retries); err != nil {
			return nil, err
		}
	}
	m := &metrics{}
	for p := PathSubresource; int(p) < len(pathNames); p++ {
		m.started[p] = started.WithLabelValues(p.String())
	}
	m.started[PathNone] = m.started[PathDirect] // never used for a start
	for o := Started; o < numOutcomes; o++ {
		m.outcomes[o] = outcomes.WithLabelValues(o.String())
	}
	m.outcomes[0] = m.outcomes[Failed]
	for r := range numRetries {
		m.retries[r] = retries.WithLabelValues(retryNames[r])
	}
	return m, nil
}
