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
// time changes nothing (see registered).
const probeTimeout = 10 * time.Second

// probe caches whether the cluster registers KubeVirt's subresource API.
type probe struct {
	mu         sync.Mutex
	known      bool
	registered bool
	at         time.Time
}

func (p *probe) invalidate() {
	p.mu.Lock()
	p.known = false
	p.mu.Unlock()
}

// path returns how to act on a VirtualMachine now: the subresource API or
// direct patches.
func (s *Starter) path(ctx context.Context) Path {
	switch APIMode(s.api.Load()) {
	case APISubresource:
		return PathSubresource
	case APIDirect:
		return PathDirect
	}
	registered, err := s.registered(ctx)
	if err != nil || registered {
		// No answer is not "not registered": use the API, whose own errors
		// are retried.
		return PathSubresource
	}
	return PathDirect
}

// SubresourcesServed reports whether the starter currently believes the
// cluster registers KubeVirt's subresource API (probing discovery if its
// last answer is stale). With APIDirect or APISubresource it reports the
// forced choice.
func (s *Starter) SubresourcesServed() bool {
	return s.path(context.Background()) == PathSubresource
}

// registered probes discovery for KubeVirt's subresource API:
// GET /apis/subresources.kubevirt.io/v1. A 404 means the API is not
// registered (trusted for ProbeInterval); a list with virtualmachines/start
// means it is (trusted until a 404 from the API invalidates it). Anything
// else — 503 while virt-api is down, an unreachable API server — is no
// answer: the last one is kept, and without one the API is assumed
// registered, so that an outage is waited for rather than bypassed.
// Concurrent callers wait for one probe.
func (s *Starter) registered(ctx context.Context) (bool, error) {
	p := &s.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known && (p.registered || time.Since(p.at) < s.opts.ProbeInterval) {
		return p.registered, nil
	}
	list, err := s.discover(ctx)
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Info("discovery of KubeVirt's subresource API got no answer, assuming it registered for now",
			"groupVersion", SubresourceGroupVersion, "error", err.Error())
		return !p.known || p.registered, err
	}
	registered := err == nil && slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
		return r.Name == "virtualmachines/start"
	})
	if !p.known || p.registered != registered {
		s.log.Info("KubeVirt subresource API probed", "groupVersion", SubresourceGroupVersion, "registered", registered)
	}
	p.known, p.registered, p.at = true, registered, time.Now()
	return registered, nil
}

// discover reads the resources of KubeVirt's subresource API, as
// discovery.ServerResourcesForGroupVersion does, through the typed client's
// REST client (a 404 when the group version is not registered).
func (s *Starter) discover(ctx context.Context) (*metav1.APIResourceList, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
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
