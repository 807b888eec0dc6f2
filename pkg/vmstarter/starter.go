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
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
)

// The least the starter needs: read the VirtualMachine and its instance;
// call the start and unpause subresources (exactly what virtctl needs); and
// record events on the VirtualMachine. Patching VirtualMachines (the direct
// path, an opt-in) needs more: see the markers in direct.go.
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines,verbs=get
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachineinstances,verbs=get
// +kubebuilder:rbac:groups=subresources.kubevirt.io,resources=virtualmachines/start,verbs=update
// +kubebuilder:rbac:groups=subresources.kubevirt.io,resources=virtualmachineinstances/unpause,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Event reasons. Events are recorded on the VirtualMachine for each action
// taken (Started, Unpaused) and for refusals and failures; "already running"
// and "already starting" record none.
const (
	// EventReasonWoken: a magic packet started the VirtualMachine (Normal).
	EventReasonWoken = "WokenByMagicPacket"
	// EventReasonUnpaused: a magic packet unpaused the VirtualMachine
	// (Normal).
	EventReasonUnpaused = "UnpausedByMagicPacket"
	// EventReasonRefused: KubeVirt would not start the VirtualMachine; the
	// message says why (Warning).
	EventReasonRefused = "WakeRefused"
	// EventReasonFailed: starting the VirtualMachine failed (Warning).
	EventReasonFailed = "WakeFailed"
)

// SubresourceGroupVersion is KubeVirt's aggregated API that serves the start
// and unpause subresources.
const SubresourceGroupVersion = "subresources.kubevirt.io/v1"

// EventRecorder records an event on an object. client-go's
// record.EventRecorder satisfies it. The VirtualMachine passed carries its
// apiVersion and kind, so the recorder's scheme need not know KubeVirt types.
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// APIMode selects how the starter asks KubeVirt to start a VirtualMachine.
type APIMode uint8

// API modes.
const (
	// APISubresource (the default) starts and unpauses only through
	// KubeVirt's subresource API, as virtctl does. While the API is
	// registered but does not answer (virt-api down: 503), the call waits
	// for it, within its deadline. On a cluster that does not register the
	// API at all, a start fails with ReasonSubresourceNotServed.
	APISubresource APIMode = iota
	// APIFallback uses the subresource API when it is registered, and
	// patches the VirtualMachine (the change virt-api would make) only when
	// discovery says the API is not registered at all (404) — KubeVirt
	// without virt-api's aggregated API. A registered API that does not
	// answer is waited for, never bypassed: KubeVirt's admission webhooks,
	// served by the same virt-api, refuse direct writes meanwhile. Needs the
	// direct path's RBAC (direct.go). A negative discovery answer is trusted
	// for Options.ProbeInterval; a positive one until the API answers 404.
	APIFallback
	// APIDirect always patches the VirtualMachine (and never unpauses). For
	// tests of the direct path.
	APIDirect
)

// Defaults of Options.
const (
	DefaultStopTimeout    = 60 * time.Second
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	DefaultMaxRetries     = 5
	DefaultProbeInterval  = 30 * time.Second
	DefaultFieldManager   = "kubevirt-wol"
)

// Options configure a Starter. Zero values mean the defaults.
type Options struct {
	// NodeName is the node the listener runs on, named in events.
	NodeName string
	// Events records events on VirtualMachines; nil records none.
	Events EventRecorder
	// Registerer receives the starter's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives structured logs.
	Log logr.Logger
	// API selects the subresource API only (default), the subresource API
	// with direct patches where it is not registered, or direct patches.
	API APIMode
	// StopTimeout bounds how long a call without a deadline waits for a
	// stopping VirtualMachine. A call with a deadline (the listener's wake
	// deadline) waits until that deadline, whatever this says. Default 60s.
	StopTimeout time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// evaluations: while a VirtualMachine stops, after a lost race, and
	// after transient API errors. Defaults 100ms and 2s.
	InitialBackoff, MaxBackoff time.Duration
	// MaxRetries bounds the lost races one Start call tolerates, the
	// server errors it retries when nothing changed in between, and the
	// transient API errors when the call's context has no deadline.
	// Default 5. With a deadline, transient errors — timeouts, 429, 503,
	// and the API server being unreachable — are retried with backoff until
	// the deadline, so that an outage shorter than the deadline is ridden
	// out.
	MaxRetries int
	// ProbeInterval is how long the starter trusts a discovery result that
	// says the subresource API is not registered (APIFallback). Default 30s.
	ProbeInterval time.Duration
	// FieldManager names the starter in the VirtualMachine's managedFields
	// when it patches the VirtualMachine. Default "kubevirt-wol".
	FieldManager string
}

func (o Options) withDefaults() Options {
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.FieldManager == "" {
		o.FieldManager = DefaultFieldManager
	}
	return o
}

// Starter starts VirtualMachines the way `virtctl start` does. It is safe
// for concurrent use, by any number of goroutines and processes: whether a
// start happens is decided by the API server alone (a precondition on every
// write), so concurrent calls for one stopped VirtualMachine start it once.
type Starter struct {
	client kvcorev1.KubevirtV1Interface
	opts   Options
	log    logr.Logger
	m      *metrics
	probe  probe
	api    atomic.Uint32 // APIMode; Options.API until SetAPI

	// inflight holds the VirtualMachines a Start call of this Starter is
	// handling. It only spares workers: a second wake for a VirtualMachine
	// that is, say, being waited for while it stops returns at once instead
	// of waiting too. Exactly-once does not depend on it (see Starter).
	mu       sync.Mutex
	inflight map[types.NamespacedName]struct{}
}

// New returns a Starter that acts through client, the typed kubevirt.io/v1
// client (clientset.KubevirtV1() of kubevirt.io/client-go's clientset, or
// kvcorev1.NewForConfigAndClient, which links far less into a binary). Its
// REST client also answers the starter's discovery of KubeVirt's
// subresource API.
func New(client kvcorev1.KubevirtV1Interface, opts Options) (*Starter, error) {
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Starter{client: client, opts: opts, log: opts.Log, m: m, inflight: make(map[types.NamespacedName]struct{})}
	s.api.Store(uint32(opts.API))
	return s, nil
}

// SetAPI changes how the next calls start VirtualMachines (the listener
// follows its WolConfig's spec.directPatchFallback).
func (s *Starter) SetAPI(m APIMode) {
	if old := APIMode(s.api.Swap(uint32(m))); old != m {
		s.log.Info("VM start path changed", "api", m.String())
	}
}

// String returns "subresource", "fallback" or "direct".
func (m APIMode) String() string {
	switch m {
	case APISubresource:
		return "subresource"
	case APIFallback:
		return "fallback"
	case APIDirect:
		return "direct"
	}
	return unknown
}

// Start makes sure the VirtualMachine key runs, on behalf of a magic packet
// from origin: it starts it, unpauses it, or reports why it did neither (see
// [Decide] for the rules). A VirtualMachine that is stopping is waited for,
// until ctx's deadline (or Options.StopTimeout without one), then started.
// An error is returned only with outcome Failed; refusals are outcomes, not
// errors.
//
// A call for a VirtualMachine that another call of this Starter is still
// handling returns AlreadyStarting at once.
//
// Every call is counted once in wol_vm_start_outcomes_total; real starts in
// wol_vm_started_total. An event is recorded on the VirtualMachine for
// Started, Unpaused, Refused and Failed.
func (s *Starter) Start(ctx context.Context, key types.NamespacedName, origin Origin) (Result, error) {
	var res Result
	if !s.enter(key) {
		res.Outcome, res.Message = AlreadyStarting, "a wake for this VirtualMachine is already being handled by this listener"
		s.report(key, nil, origin, res, nil)
		return res, nil
	}
	defer s.leave(key)
	vm, err := s.run(ctx, key, &res)
	if err != nil {
		res.Outcome = Failed
		if res.Reason == ReasonNone && errors.Is(err, context.DeadlineExceeded) {
			res.Reason = ReasonDeadlineExceeded
		}
		if res.Reason == ReasonNone {
			res.Reason = ReasonAPIError
		}
		res.Message = err.Error()
		err = fmt.Errorf("starting VirtualMachine %s: %w", key, err)
	}
	s.report(key, vm, origin, res, err)
	return res, err
}

func (s *Starter) enter(key types.NamespacedName) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.inflight[key]; busy {
		return false
	}
	s.inflight[key] = struct{}{}
	return true
}

func (s *Starter) leave(key types.NamespacedName) {
	s.mu.Lock()
	delete(s.inflight, key)
	s.mu.Unlock()
}

// report counts, logs and records the event for one Start call.
func (s *Starter) report(
	key types.NamespacedName,
	vm *kubevirtv1.VirtualMachine,
	origin Origin,
	res Result,
	err error,
) {
	s.m.outcomes[res.Outcome].Inc()
	log := s.log.WithValues("vm", key, "origin", origin.String(), "outcome", res.Outcome.String(),
		"attempts", res.Attempts, "conflicts", res.Conflicts)
	from := fmt.Sprintf("a Wake-on-LAN magic packet from %s, received by the listener on node %s", origin, s.nodeName())
	switch res.Outcome {
	case Started:
		s.m.started[res.Path].Inc()
		log.Info("VM started", "path", res.Path.String(), "waited", res.Waited)
		how := "through KubeVirt's start subresource"
		if res.Path == PathDirect {
			how = "by patching the VirtualMachine (KubeVirt's subresource API is not registered; spec.directPatchFallback)"
		}
		s.event(vm, corev1.EventTypeNormal, EventReasonWoken, "Started by "+from+", "+how)
	case Unpaused:
		log.Info("VM unpaused")
		s.event(vm, corev1.EventTypeNormal, EventReasonUnpaused,
			"Unpaused by "+from+", through KubeVirt's unpause subresource")
	case Refused:
		log.Info("wake refused", "reason", string(res.Reason), "detail", res.Message)
		s.event(vm, corev1.EventTypeWarning, EventReasonRefused,
			fmt.Sprintf("Not started by %s: %s (%s)", from, res.Message, res.Reason))
	case Failed:
		log.Error(err, "wake failed", "reason", string(res.Reason), "waited", res.Waited)
		s.event(vm, corev1.EventTypeWarning, EventReasonFailed,
			fmt.Sprintf("Could not start for %s: %s (%s)", from, res.Message, res.Reason))
	case NotFound:
		log.Info("VM to wake not found")
	default:
		log.V(1).Info("VM already running or starting", "detail", res.Message)
	}
}

func (s *Starter) nodeName() string {
	if s.opts.NodeName == "" {
		return "(unknown)"
	}
	return s.opts.NodeName
}

func (s *Starter) event(vm *kubevirtv1.VirtualMachine, eventType, reason, msg string) {
	if s.opts.Events == nil || vm == nil {
		return
	}
	// vm was read by this call and is not shared: give it its kind so the
	// recorder can reference it without KubeVirt types in its scheme.
	vm.SetGroupVersionKind(kubevirtv1.VirtualMachineGroupVersionKind)
	s.opts.Events.Event(vm, eventType, reason, msg)
}
