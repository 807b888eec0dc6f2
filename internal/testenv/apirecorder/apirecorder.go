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

// Package apirecorder records the requests a client sends to the API server
// — verb, path, whether it is a watch, the status, when it started and
// ended — by wrapping the client's HTTP transport. Tests count with it (an
// idle operator writes nothing; a restarted listener writes to no VM) and
// benchmarks time with it.
package apirecorder

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// Call is one request.
type Call struct {
	Method, Path string
	// Watch is a watch request (?watch=true).
	Watch bool
	// Status is the HTTP status; 0 when the request failed without one.
	Status int
	// Start and End bound the request, response headers included.
	Start, End time.Time
}

// Write reports whether the call may change something: every verb but GET.
func (c Call) Write() bool { return c.Method != http.MethodGet }

// Recorder records the calls of the clients whose transport it wraps. It
// records from the start; Record(false) pauses it.
type Recorder struct {
	// Hook, if set, sees every call as it completes, recorded or not.
	Hook func(Call)

	mu    sync.Mutex
	off   bool
	calls []Call
}

// New returns a Recorder that records.
func New() *Recorder { return &Recorder{} }

// Config returns a copy of cfg whose requests r records.
func (r *Recorder) Config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(r.Wrap)
	return c
}

// Wrap wraps rt (for rest.Config.Wrap).
func (r *Recorder) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		c := Call{Method: req.Method, Path: req.URL.Path, Start: time.Now()}
		if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
			c.Watch = true
		}
		resp, err := rt.RoundTrip(req)
		c.End = time.Now()
		if err == nil {
			c.Status = resp.StatusCode
		}
		r.mu.Lock()
		if !r.off {
			r.calls = append(r.calls, c)
		}
		r.mu.Unlock()
		if r.Hook != nil {
			r.Hook(c)
		}
		return resp, err
	})
}

// Record resumes (true) or pauses (false) recording.
func (r *Recorder) Record(on bool) {
	r.mu.Lock()
	r.off = !on
	r.mu.Unlock()
}

// Calls returns the calls recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Take returns the calls recorded so far and forgets them.
func (r *Recorder) Take() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// Count returns how many recorded calls match.
func (r *Recorder) Count(match func(Call) bool) int {
	n := 0
	for _, c := range r.Calls() {
		if match(c) {
			n++
		}
	}
	return n
}

// Resource reduces an API path to its resource (and subresource), e.g.
// /apis/kubevirt.io/v1/namespaces/a/virtualmachines/b/status ->
// virtualmachines/status.
func Resource(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) > 0 && seg[0] == "api":
		seg = seg[min(2, len(seg)):]
	case len(seg) > 0 && seg[0] == "apis":
		seg = seg[min(3, len(seg)):]
	}
	if len(seg) > 2 && seg[0] == "namespaces" {
		seg = seg[2:]
	}
	if len(seg) == 0 {
		return "discovery"
	}
	if len(seg) >= 3 {
		return seg[0] + "/" + seg[2]
	}
	return seg[0]
}

// Summary describes calls on one line as "VERB resource: n" (object names
// left out), or "none", for logs and failure messages.
func Summary(calls []Call) string {
	counts := map[string]int{}
	for _, c := range calls {
		counts[c.Method+" "+Resource(c.Path)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
