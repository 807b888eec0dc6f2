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
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
)

// The least the starter needs: read the VirtualMachine and its instance;
// call the start and unpause subresources (what virtctl does); patch the
// VirtualMachine and its status when the subresource API is not served; and
// record events on the VirtualMachine.
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines,verbs=get;patch
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines/status,verbs=patch
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
	// APIAuto uses KubeVirt's subresource API when discovery shows it and
	// patches the VirtualMachine otherwise. A negative discovery result is
	// trusted for Options.ProbeInterval; a positive one until the API
	// answers 404 or 503.
	APIAuto APIMode = iota
	// APISubresource always uses the subresource API.
	APISubresource
	// APIDirect always patches the VirtualMachine (and never unpauses).
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
	// API selects the subresource API, direct patches, or (default) the
	// former when it is served.
	API APIMode
	// StopTimeout bounds how long Start waits for a stopping VirtualMachine
	// before it gives up (outcome Failed, ErrStillStopping). Default 60s.
	StopTimeout time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// evaluations of a stopping VirtualMachine, and after transient API
	// errors. Defaults 100ms and 2s.
	InitialBackoff, MaxBackoff time.Duration
	// MaxRetries bounds the lost races one Start call tolerates, and the
	// transient API errors when the call's context has no deadline.
	// Default 5. With a deadline (the listener's wake deadline), transient
	// errors — timeouts, 429, 5xx, and the API server being unreachable —
	// are retried with backoff until the deadline, so that an outage
	// shorter than the deadline is ridden out.
	MaxRetries int
	// ProbeInterval is how long the starter trusts a discovery result that
	// says the subresource API is not served (APIAuto). Default 30s.
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
	return &Starter{client: client, opts: opts, log: opts.Log, m: m, inflight: make(map[types.NamespacedName]struct{})}, nil
}

// Start makes sure the VirtualMachine key runs, on behalf of a magic packet
// from origin: it starts it, unpauses it, or reports why it did neither (see
// [Decide] for the rules). A VirtualMachine that is stopping is waited for,
// up to Options.StopTimeout, then started. An error is returned only with
// outcome Failed; refusals are outcomes, not errors.
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
		if errors.Is(err, context.DeadlineExceeded) {
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

// run is the decision loop. It returns the last VirtualMachine read (nil if
// none could be read).
func (s *Starter) run(ctx context.Context, key types.NamespacedName, res *Result) (*kubevirtv1.VirtualMachine, error) {
	var (
		vm        *kubevirtv1.VirtualMachine
		backoff   = s.opts.InitialBackoff
		waitSince time.Time
		transient int
	)
	pause := func(r retry) error {
		s.m.retries[r].Inc()
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, s.opts.MaxBackoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	_, bounded := ctx.Deadline()
	retryTransient := func(err error) error {
		if transient++; !bounded && transient > s.opts.MaxRetries {
			return err
		}
		if transient == 1 || transient%10 == 0 {
			s.log.Info("API request failed, retrying", "vm", key, "attempt", transient, "error", err.Error())
		}
		if perr := pause(retryTransient); perr != nil {
			return fmt.Errorf("%w (last error: %w)", perr, err)
		}
		return nil
	}
	for {
		res.Attempts++
		cur, vmi, err := s.read(ctx, key)
		switch {
		case apierrors.IsNotFound(err):
			res.Outcome, res.Message = NotFound, "the VirtualMachine does not exist"
			return vm, nil
		case IsTransient(err):
			if err := retryTransient(err); err != nil {
				return vm, err
			}
			continue
		case err != nil:
			return vm, err
		}
		vm = cur

		d := Decide(vm, vmi)
		switch d.Action {
		case ActionNone:
			res.Outcome, res.Reason, res.Message = d.Outcome, d.Reason, d.Message
			return vm, nil
		case ActionWait:
			if waitSince.IsZero() {
				waitSince = time.Now()
			}
			res.Waited = time.Since(waitSince)
			if res.Waited+backoff > s.opts.StopTimeout {
				res.Reason = ReasonStillStopping
				return vm, fmt.Errorf("%w after %s", ErrStillStopping, res.Waited.Round(time.Millisecond))
			}
			s.log.V(1).Info("VM is stopping, waiting before starting it", "vm", key, "waited", res.Waited)
			if err := pause(retryStopping); err != nil {
				return vm, err
			}
			res.Waited = time.Since(waitSince)
			continue
		}

		path := s.path()
		var out Outcome
		switch d.Action {
		case ActionUnpause:
			out, err = s.unpause(ctx, vmi, path)
		default:
			out, err = s.start(ctx, vm, vmi, path)
		}
		switch {
		case err == nil:
			res.Outcome, res.Path = out, path
			if out == Refused {
				res.Path, res.Reason = PathNone, ReasonUnpauseUnavailable
				res.Message = "the VirtualMachine is paused, and KubeVirt's subresource API, needed to unpause it, is not served"
			}
			return vm, nil
		case errors.Is(err, errLostRace):
			res.Conflicts++
			if res.Conflicts > s.opts.MaxRetries {
				res.Reason = ReasonTooManyConflicts
				return vm, fmt.Errorf("%w (%d)", ErrTooManyConflicts, res.Conflicts)
			}
			s.m.retries[retryConflict].Inc()
			s.log.V(1).Info("VM start lost a race, evaluating again", "vm", key, "error", err.Error())
		case errors.Is(err, errAPIGone):
			s.log.V(1).Info("KubeVirt subresource API not served, patching the VirtualMachine instead", "vm", key)
		case IsTransient(err):
			if err := retryTransient(err); err != nil {
				return vm, err
			}
		default:
			return vm, err
		}
	}
}

var (
	// errLostRace: the write was refused because another writer changed
	// the VirtualMachine first; evaluate again.
	errLostRace = errors.New("lost a race with another writer")
	// errAPIGone: the subresource API answered 404 and discovery no longer
	// shows it; evaluate again with direct patches.
	errAPIGone = errors.New("subresource API not served")
)

func (s *Starter) read(ctx context.Context, key types.NamespacedName) (*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineInstance, error) {
	kv := s.client
	// The two reads are independent: issue them together, so a wake costs
	// one round trip before its write instead of two. They were never
	// atomic anyway; the write's precondition is what guards the decision.
	var (
		vmi    *kubevirtv1.VirtualMachineInstance
		vmiErr error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		vmi, vmiErr = kv.VirtualMachineInstances(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	}()
	vm, err := kv.VirtualMachines(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	<-done
	if err != nil {
		return nil, nil, err
	}
	if apierrors.IsNotFound(vmiErr) {
		return vm, nil, nil
	}
	if vmiErr != nil {
		return nil, nil, vmiErr
	}
	return vm, vmi, nil
}

// start starts vm through path.
func (s *Starter) start(ctx context.Context, vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance, path Path) (Outcome, error) {
	vms := s.client.VirtualMachines(vm.Namespace)
	if path == PathSubresource {
		err := vms.Start(ctx, vm.Name, &kubevirtv1.StartOptions{})
		if err == nil {
			return Started, nil
		}
		return 0, s.subresourceError(err)
	}
	rs, _ := vm.RunStrategy() // Decide checked it
	opts := metav1.PatchOptions{FieldManager: s.opts.FieldManager}
	var err error
	switch rs {
	case kubevirtv1.RunStrategyHalted:
		var data []byte
		if data, err = RunningPatch(vm); err != nil {
			return 0, err
		}
		_, err = vms.Patch(ctx, vm.Name, types.JSONPatchType, data, opts)
	case kubevirtv1.RunStrategyManual, kubevirtv1.RunStrategyRerunOnFailure:
		var data []byte
		data, err = ChangeRequestPatch(vm, StartRequests(vm, vmi)...)
		if errors.Is(err, ErrChangeUnderway) {
			return 0, fmt.Errorf("%w: %w", errLostRace, err)
		}
		if err != nil {
			return 0, err
		}
		_, err = vms.PatchStatus(ctx, vm.Name, types.JSONPatchType, data, opts)
	default:
		return 0, fmt.Errorf("no start for run strategy %q", rs)
	}
	switch {
	case err == nil:
		return Started, nil
	case apierrors.IsConflict(err), apierrors.IsInvalid(err), apierrors.IsNotFound(err):
		// 422: a JSON-patch test failed, i.e. the value changed since we
		// read it. 404: the VirtualMachine is gone; reading it again says so.
		return 0, fmt.Errorf("%w: %w", errLostRace, err)
	}
	return 0, err
}

// unpause unpauses vmi, which needs the subresource API.
func (s *Starter) unpause(ctx context.Context, vmi *kubevirtv1.VirtualMachineInstance, path Path) (Outcome, error) {
	if path != PathSubresource {
		return Refused, nil
	}
	err := s.client.VirtualMachineInstances(vmi.Namespace).Unpause(ctx, vmi.Name, &kubevirtv1.UnpauseOptions{})
	if err == nil {
		return Unpaused, nil
	}
	return 0, s.subresourceError(err)
}

// subresourceError classifies an error of the subresource API.
func (s *Starter) subresourceError(err error) error {
	switch {
	case apierrors.IsConflict(err), apierrors.IsInternalError(err):
		// virt-api answers 409 when the VirtualMachine is already running or
		// a JSON-patch test failed, 500 when a request is already pending.
		return fmt.Errorf("%w: %w", errLostRace, err)
	case apierrors.IsNotFound(err):
		// Either the VirtualMachine is gone or the API is not served.
		if s.opts.API == APIAuto {
			s.probe.invalidate()
			if !s.path().subresource() {
				return fmt.Errorf("%w: %w", errAPIGone, err)
			}
		}
		return fmt.Errorf("%w: %w", errLostRace, err)
	case apierrors.IsServiceUnavailable(err):
		// The APIService exists but its backend does not answer: probe again
		// next time, which may fall back to direct patches.
		if s.opts.API == APIAuto {
			s.probe.invalidate()
		}
	}
	return err
}

func (p Path) subresource() bool { return p == PathSubresource }

// IsTransient reports whether err may go away by itself: an API server
// that is overloaded or briefly unavailable (timeouts, 429, 503, unexpected
// 5xx), or that cannot be reached at all (connection refused or reset, the
// connection lost mid-request, a network timeout). The caller's own
// cancellation is not transient.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false // any other answer from the API server is an answer
	}
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// report counts, logs and records the event for one Start call.
func (s *Starter) report(key types.NamespacedName, vm *kubevirtv1.VirtualMachine, origin Origin, res Result, err error) {
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
			how = "by patching the VirtualMachine (KubeVirt's subresource API is not served)"
		}
		s.event(vm, corev1.EventTypeNormal, EventReasonWoken, "Started by "+from+", "+how)
	case Unpaused:
		log.Info("VM unpaused")
		s.event(vm, corev1.EventTypeNormal, EventReasonUnpaused, "Unpaused by "+from)
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
