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

package controller

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// PortConflict says why a WolConfig gets no listener: an older WolConfig's
// listener needs one of the same host ports on nodes both may run on.
type PortConflict struct {
	// With is the name of the WolConfig that keeps the port.
	With string
	// Port and Protocol name the first contested host port.
	Port     int32
	Protocol corev1.Protocol
}

// Message describes the conflict for a condition or an event.
func (c PortConflict) Message() string {
	return fmt.Sprintf("%s port %d is already used by the listener of WolConfig %q on the same nodes; "+
		"change spec.wolPorts or spec.listener.metricsPort, or use spec.listener.nodeSelector to run the listeners on different nodes",
		c.Protocol, c.Port, c.With)
}

// FindPortConflict reports whether wc must give way to another WolConfig in
// all. WolConfigs are ranked by age (then name); each keeps its ports unless
// an older WolConfig that itself kept its ports needs one of them on nodes
// both may use. The result is the same whichever WolConfig is asked, so the
// winner never changes because of reconcile order.
func FindPortConflict(wc *wolv1beta1.WolConfig, all []wolv1beta1.WolConfig) (PortConflict, bool) {
	ranked := slices.Clone(all)
	slices.SortFunc(ranked, func(a, b wolv1beta1.WolConfig) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var kept []*wolv1beta1.WolConfig
	for i := range ranked {
		cur := &ranked[i]
		if cur.DeletionTimestamp != nil {
			continue
		}
		var lost *PortConflict
		for _, k := range kept {
			if c, ok := conflictBetween(cur, k); ok {
				lost = &c
				break
			}
		}
		if cur.Name == wc.Name {
			if lost != nil {
				return *lost, true
			}
			return PortConflict{}, false
		}
		if lost == nil {
			kept = append(kept, cur)
		}
	}
	return PortConflict{}, false
}

// conflictBetween reports the first host port that newer and older both
// need, when their listeners can land on the same node.
func conflictBetween(newer, older *wolv1beta1.WolConfig) (PortConflict, bool) {
	if !nodesMayOverlap(newer.Spec.Listener.NodeSelector, older.Spec.Listener.NodeSelector) {
		return PortConflict{}, false
	}
	for _, p := range wolPorts(newer) {
		if slices.Contains(wolPorts(older), p) {
			return PortConflict{With: older.Name, Port: p, Protocol: corev1.ProtocolUDP}, true
		}
	}
	if metricsPort(newer) == metricsPort(older) {
		return PortConflict{With: older.Name, Port: metricsPort(newer), Protocol: corev1.ProtocolTCP}, true
	}
	return PortConflict{}, false
}

// nodesMayOverlap is false only when the two node selectors require
// different values for the same label, so no node can match both.
func nodesMayOverlap(a, b map[string]string) bool {
	for k, va := range a {
		if vb, ok := b[k]; ok && va != vb {
			return false
		}
	}
	return true
}
