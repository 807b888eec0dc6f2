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
	"slices"
	"time"

	"github.com/go-logr/logr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/listener"
)

// ListenerConfig maps a WolConfig spec onto the packet engine's settings.
// Zero values (fields the API server would have defaulted) keep the
// engine's defaults, which are the same.
func ListenerConfig(spec wolv1beta1.WolConfigSpec, log logr.Logger) listener.Config {
	cfg := listener.Config{
		Raw:         spec.RawEthernet.Enabled,
		Promiscuous: spec.RawEthernet.Promiscuous,
		Interfaces:  slices.Clone(spec.Interfaces),
		Logger:      log,
	}
	for _, p := range spec.WolPorts {
		cfg.Ports = append(cfg.Ports, uint16(p))
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = listener.DefaultPorts()
	}
	if spec.DedupeWindowSeconds != nil {
		cfg.DedupeWindow = time.Duration(*spec.DedupeWindowSeconds) * time.Second
	}
	rl := spec.RateLimit
	cfg.SourceLimit = listener.Limit{Rate: float64(rl.PerSourcePerMinute) / 60, Burst: int(rl.PerSourceBurst)}
	cfg.GlobalLimit = listener.Limit{Rate: float64(rl.GlobalPerMinute) / 60, Burst: int(rl.GlobalBurst)}
	return cfg
}

// onlyPortsDiffer reports whether a and b differ in their ports alone, which
// a running listener applies by rebinding without a restart.
func onlyPortsDiffer(a, b listener.Config) bool {
	a.Ports, b.Ports = nil, nil
	a.Logger, b.Logger = logr.Logger{}, logr.Logger{}
	return sameConfig(a, b)
}

func sameConfig(a, b listener.Config) bool {
	return slices.Equal(a.Ports, b.Ports) &&
		slices.Equal(a.Interfaces, b.Interfaces) &&
		a.IPv6 == b.IPv6 && a.Raw == b.Raw && a.Promiscuous == b.Promiscuous &&
		a.DedupeWindow == b.DedupeWindow && a.SourceLimit == b.SourceLimit && a.GlobalLimit == b.GlobalLimit &&
		a.MaxSources == b.MaxSources && a.Workers == b.Workers && a.QueueSize == b.QueueSize &&
		a.ReceiveBufferBytes == b.ReceiveBufferBytes
}
