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
	"context"
	"errors"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpillon/kubevirt-wol/pkg/listener"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

// wakeHandler turns an admitted wake into a start: it looks the target MAC
// up in the index and, if exactly one VM owns it, starts that VM.
type wakeHandler struct {
	index   *vmindex.Index
	starter *vmstarter.Starter
	lookups *prometheus.CounterVec
	log     logr.Logger
}

func newWakeHandler(index *vmindex.Index, starter *vmstarter.Starter, reg prometheus.Registerer, log logr.Logger) (*wakeHandler, error) {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_wake_lookups_total",
		Help: "Admitted wakes by the result of looking their target MAC up in the VM index: " +
			"found, not_found, conflict (several VMs have the MAC) or mapped_vm_missing (Explicit mapping to a VM that does not exist).",
	}, []string{"result"})
	if err := reg.Register(lookups); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		lookups = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return &wakeHandler{index: index, starter: starter, lookups: lookups, log: log}, nil
}

// HandleWake implements listener.WakeHandler.
func (h *wakeHandler) HandleWake(ctx context.Context, w listener.Wake) error {
	key, res := h.index.Resolve(w.Target)
	h.lookups.WithLabelValues(res.String()).Inc()
	if res != vmindex.Found {
		h.log.V(1).Info("Magic packet for no wakeable VirtualMachine",
			"mac", w.Target.String(), "lookup", res.String(), "protocol", w.Origin.Protocol.String(),
			"port", w.Origin.Port, "source", sourceOf(w.Origin))
		return nil
	}
	_, err := h.starter.Start(ctx, key, originOf(w.Origin))
	return err
}

// originOf converts the packet engine's origin into the starter's.
func originOf(o listener.Origin) vmstarter.Origin {
	return vmstarter.Origin{
		Protocol:  o.Protocol.String(),
		Port:      o.Port,
		Source:    o.Source,
		SourceMAC: o.SourceMAC,
		Interface: o.Interface,
		VLAN:      o.VLAN,
		Tagged:    o.Tagged,
	}
}

func sourceOf(o listener.Origin) string {
	if o.Protocol == listener.ProtocolRaw {
		return o.SourceMAC.String()
	}
	return o.Source.String()
}
