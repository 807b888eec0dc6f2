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
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// probeTimeout bounds one discovery request: a probe that gets no answer in
// time changes nothing (see subresourcesServed).
const probeTimeout = 10 * time.Second

// probe caches whether the cluster serves KubeVirt's subresource API.
type probe struct {
	mu     sync.Mutex
	known  bool
	served bool
	at     time.Time
}

func (p *probe) invalidate() {
	p.mu.Lock()
	p.known = false
	p.mu.Unlock()
}

// path returns how to act now: the subresource API or direct patches.
func (s *Starter) path() Path {
	switch s.opts.API {
	case APISubresource:
		return PathSubresource
	case APIDirect:
		return PathDirect
	}
	if s.subresourcesServed() {
		return PathSubresource
	}
	return PathDirect
}

// SubresourcesServed reports whether the cluster serves KubeVirt's
// subresource API with the start subresource, as the starter currently
// believes (probing discovery if its last answer is stale). With APIDirect
// or APISubresource it reports the forced choice.
func (s *Starter) SubresourcesServed() bool { return s.path() == PathSubresource }

// subresourcesServed probes discovery. A positive answer is kept until
// invalidated (a 404 or 503 from the API); a negative one for ProbeInterval.
// A probe that gets no answer changes nothing (and says "not served" when
// nothing is known yet, so the call goes on with direct patches, which fail
// the same way and are retried). Concurrent callers wait for one probe.
func (s *Starter) subresourcesServed() bool {
	p := &s.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known && (p.served || time.Since(p.at) < s.opts.ProbeInterval) {
		return p.served
	}
	list, err := s.discover()
	if err != nil && !apierrors.IsNotFound(err) {
		// No answer (the API server is unreachable, overloaded...) is not
		// a "not served": keep what was known, and ask again next time.
		s.log.Info("discovery of KubeVirt's subresource API failed, keeping the last answer for now",
			"groupVersion", SubresourceGroupVersion, "lastAnswer", p.served, "error", err.Error())
		return p.known && p.served
	}
	served := err == nil && slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
		return r.Name == "virtualmachines/start"
	})
	if !p.known || p.served != served {
		s.log.Info("KubeVirt subresource API probed", "groupVersion", SubresourceGroupVersion, "served", served)
	}
	p.known, p.served, p.at = true, served, time.Now()
	return served
}

// discover reads the resources of KubeVirt's subresource API, as
// discovery.ServerResourcesForGroupVersion does, through the typed client's
// REST client (a 404 when the group version is not served).
func (s *Starter) discover() (*metav1.APIResourceList, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	body, err := s.client.RESTClient().Get().AbsPath("/apis", SubresourceGroupVersion).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	list := &metav1.APIResourceList{}
	if err := json.Unmarshal(body, list); err != nil {
		return nil, err
	}
	return list, nil
}
