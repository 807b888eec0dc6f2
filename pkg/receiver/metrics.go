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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpillon/kubevirt-wol/pkg/promreg"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Every metric of this package is documented in docs/metrics.md. Label
// values come from the fixed sets below; no address or name is ever a label.

// result is the outcome of one received packet (label "result").
type result uint8

const (
	resultAccepted    result = iota // queued for the wake handler
	resultInvalid                   // not a valid magic packet
	resultDuplicate                 // same target and password within the dedupe window
	resultRateLimited               // refused by the per-source or global limit
	resultQueueFull                 // the wake queue was full
	resultFiltered                  // arrived on an interface not listened to
	resultRefused                   // sent by a source outside the allow-list
	numResults
)

var resultNames = [numResults]string{
	"accepted", "invalid", "duplicate", "rate_limited", "queue_full", "filtered", "refused",
}

// dropReason details why a packet was not delivered (label "reason"). The
// first values mirror wol.Reason.
type dropReason uint8

const (
	dropDuplicate dropReason = iota + dropReason(len(wolReasonNames))
	dropRateLimitSource
	dropRateLimitGlobal
	dropQueueFull
	dropInterface
	dropSource
	numDropReasons
)

// wolReasonNames maps wol.Reason (1-based) to drop reasons 0..4.
var wolReasonNames = [...]string{
	wol.ReasonTooShort.String(),
	wol.ReasonNoSync.String(),
	wol.ReasonMismatch.String(),
	wol.ReasonBadTarget.String(),
	wol.ReasonNotWoLEthertype.String(),
}

func dropReasonNames() [numDropReasons]string {
	var names [numDropReasons]string
	copy(names[:], wolReasonNames[:])
	names[dropDuplicate] = "duplicate"
	names[dropRateLimitSource] = "rate_limit_source"
	names[dropRateLimitGlobal] = "rate_limit_global"
	names[dropQueueFull] = "queue_full"
	names[dropInterface] = "interface"
	names[dropSource] = "source"
	return names
}

// stage is where an error happened (label "stage").
type stage uint8

const (
	stageBind    stage = iota // opening, configuring or binding a socket
	stageRead                 // receiving from a bound socket
	stageHandler              // the WakeHandler returned an error or panicked
	numStages
)

var stageNames = [numStages]string{"bind", "read", "handler"}

// protocolLabel is the label of the series kept per protocol (udp4, udp6,
// raw).
const protocolLabel = "protocol"

// metrics holds pre-resolved series so that the hot path is one atomic add.
type metrics struct {
	packets [numProtocols][numResults]prometheus.Counter
	dropped [numProtocols][numDropReasons]prometheus.Counter
	errors  [numStages]prometheus.Counter
	sockets [numProtocols]prometheus.Gauge
	queue   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_packets_total",
		Help: "Packets received by the Wake-on-LAN listener, by protocol (udp4, udp6, raw) and result " +
			"(accepted, invalid, duplicate, rate_limited, queue_full, filtered, refused). Every packet is counted once.",
	}, []string{protocolLabel, "result"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_dropped_packets_total",
		Help: "Packets the Wake-on-LAN listener did not deliver to the wake handler, by protocol and reason " +
			"(too_short, no_sync, mismatch, bad_target, not_wol_ethertype, duplicate, rate_limit_source, " +
			"rate_limit_global, queue_full, interface, source).",
	}, []string{protocolLabel, "reason"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_errors_total",
		Help: "Errors of the Wake-on-LAN listener by stage (bind, read, handler).",
	}, []string{"stage"})
	sockets := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wol_listener_sockets",
		Help: "Sockets the Wake-on-LAN listener has bound and is reading, by protocol (udp4, udp6, raw).",
	}, []string{protocolLabel})
	queue := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wol_wake_queue_length",
		Help: "Admitted wake requests waiting for a worker.",
	})
	if reg != nil {
		var err error
		if packets, err = promreg.Register(reg, packets); err != nil {
			return nil, err
		}
		if dropped, err = promreg.Register(reg, dropped); err != nil {
			return nil, err
		}
		if errs, err = promreg.Register(reg, errs); err != nil {
			return nil, err
		}
		if sockets, err = promreg.Register(reg, sockets); err != nil {
			return nil, err
		}
		if queue, err = promreg.Register(reg, queue); err != nil {
			return nil, err
		}
	}

	m := &metrics{queue: queue}
	drops := dropReasonNames()
	for p := ProtocolUDP4; p < numProtocols; p++ {
		for r := range numResults {
			m.packets[p][r] = packets.WithLabelValues(p.String(), resultNames[r])
		}
		for d := range numDropReasons {
			m.dropped[p][d] = dropped.WithLabelValues(p.String(), drops[d])
		}
		m.sockets[p] = sockets.WithLabelValues(p.String())
	}
	for s := range numStages {
		m.errors[s] = errs.WithLabelValues(stageNames[s])
	}
	return m, nil
}

func (m *metrics) invalid(p Protocol, r wol.Reason) {
	m.packets[p][resultInvalid].Inc()
	if r >= wol.ReasonTooShort && int(r) <= len(wolReasonNames) {
		m.dropped[p][r-1].Inc()
	}
}

func (m *metrics) verdict(p Protocol, v verdict) {
	switch v {
	case verdictAccepted:
		m.packets[p][resultAccepted].Inc()
	case verdictDuplicate:
		m.drop(p, resultDuplicate, dropDuplicate)
	case verdictRateSource:
		m.drop(p, resultRateLimited, dropRateLimitSource)
	case verdictRateGlobal:
		m.drop(p, resultRateLimited, dropRateLimitGlobal)
	case verdictQueueFull:
		m.drop(p, resultQueueFull, dropQueueFull)
	}
}

func (m *metrics) drop(p Protocol, r result, d dropReason) {
	m.packets[p][r].Inc()
	m.dropped[p][d].Inc()
}
