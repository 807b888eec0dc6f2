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
	"net"
	"slices"
	"sync"
)

// ifSet is a small immutable set of interface indexes.
type ifSet struct{ idx []int }

func (s *ifSet) has(i int) bool { return slices.Contains(s.idx, i) }

// ifNames caches interface index to name. It is filled when Run binds (in
// the listener's network namespace) and on demand for unknown indexes.
type ifNames struct {
	mu sync.RWMutex
	m  map[int]string
}

func (n *ifNames) snapshot() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	m := make(map[int]string, len(ifs))
	for _, ifi := range ifs {
		m[ifi.Index] = ifi.Name
	}
	n.mu.Lock()
	n.m = m
	n.mu.Unlock()
	return nil
}

func (n *ifNames) name(idx int) string {
	n.mu.RLock()
	name, ok := n.m[idx]
	n.mu.RUnlock()
	if ok {
		return name
	}
	ifi, err := net.InterfaceByIndex(idx)
	if err != nil {
		return ""
	}
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[int]string)
	}
	n.m[idx] = ifi.Name
	n.mu.Unlock()
	return ifi.Name
}
