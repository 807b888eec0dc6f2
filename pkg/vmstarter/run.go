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
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// refusal is a write that KubeVirt or the API server refused in a way that
// may be a lost race (409, 422 from a failed JSON-patch test, virt-api's 500
// for a failed test or a change already under way). Whether it was is only
// known after reading again: if what the decision rested on changed in
// between (see basis), another writer won; if not, the refusal stands.
type refusal struct {
	err   error // as classified (wraps errMaybeLostRace)
	cause error // the server's own error
	basis string
}

// attempt is the state of one Start call's decision loop.
type attempt struct {
	s         *Starter
	ctx       context.Context
	key       types.NamespacedName
	res       *Result
	backoff   wait.Backoff
	bounded   bool // ctx has a deadline
	waitSince time.Time
	transient int   // transient errors so far
	lastErr   error // the last transient error, for the message if the deadline cuts a request short
	serverErr int   // unexplained server errors (500, nothing changed) so far
	refused   *refusal
}

// run is the decision loop. It returns the last VirtualMachine read (nil if
// none could be read).
func (s *Starter) run(ctx context.Context, key types.NamespacedName, res *Result) (*kubevirtv1.VirtualMachine, error) {
	_, bounded := ctx.Deadline()
	a := &attempt{s: s, ctx: ctx, key: key, res: res, bounded: bounded, backoff: wait.Backoff{
		Duration: s.opts.InitialBackoff, Factor: 2, Cap: s.opts.MaxBackoff, Steps: 1 << 30,
	}}
	var vm *kubevirtv1.VirtualMachine
	for {
		res.Attempts++
		cur, vmi, err := s.read(ctx, key)
		switch {
		case apierrors.IsNotFound(err):
			res.Outcome, res.Message = NotFound, "the VirtualMachine does not exist"
			return vm, nil
		case IsTransient(err):
			if err := a.retryTransient(err); err != nil {
				return vm, err
			}
			continue
		case err != nil:
			return vm, a.withLast(err)
		}
		vm = cur
		if a.refused != nil {
			if err := a.judgeRefusal(vm, vmi); err != nil {
				return vm, err
			}
		}

		d := Decide(vm, vmi)
		switch d.Action {
		case ActionNone:
			res.Outcome, res.Reason, res.Message = d.Outcome, d.Reason, d.Message
			return vm, nil
		case ActionWait:
			if err := a.waitForStop(); err != nil {
				return vm, err
			}
			continue
		}

		path := s.path(ctx)
		var out Outcome
		if d.Action == ActionUnpause {
			out, err = s.unpause(ctx, vmi, path)
		} else {
			out, err = s.start(ctx, vm, vmi, path)
		}
		switch {
		case err == nil:
			res.Outcome, res.Path = out, path
			if out == Refused {
				res.Path, res.Reason = PathNone, ReasonUnpauseUnavailable
				res.Message = "the VirtualMachine is paused, and KubeVirt's subresource API, " +
					"needed to unpause it, is not registered"
			}
			return vm, nil
		case errors.Is(err, errMaybeLostRace):
			a.refused = &refusal{err: err, cause: causeOf(err), basis: basis(vm, vmi)}
			if err := a.pause(retryConflict); err != nil {
				return vm, fmt.Errorf("%w (last error: %w)", err, a.refused.err)
			}
		case errors.Is(err, errAPIGone):
			s.log.V(1).Info("KubeVirt subresource API not registered, patching the VirtualMachine instead", "vm", key)
		case errors.Is(err, ErrSubresourceNotServed):
			res.Reason = ReasonSubresourceNotServed
			return vm, err
		case IsTransient(err):
			if err := a.retryTransient(err); err != nil {
				return vm, err
			}
		default:
			return vm, a.withLast(err)
		}
	}
}

// withLast adds the last transient error to err when the call's context
// ended a request in flight: the message then says why the start kept
// failing (say virt-api's 503), not only that time ran out.
func (a *attempt) withLast(err error) error {
	if a.lastErr == nil || a.ctx.Err() == nil || !errors.Is(err, a.ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (last error: %w)", err, a.lastErr)
}

// judgeRefusal decides, from a fresh read, what the last refused write was:
// a lost race (something changed: evaluate again), a persistent refusal (409
// or 422 with nothing changed: give up with the server's message) or a
// server error (500 with nothing changed: retry a few times, then give up).
func (a *attempt) judgeRefusal(vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) error {
	r := a.refused
	a.refused = nil
	if basis(vm, vmi) != r.basis {
		a.res.Conflicts++
		if a.res.Conflicts > a.s.opts.MaxRetries {
			a.res.Reason = ReasonTooManyConflicts
			return fmt.Errorf("%w (%d); last: %w", ErrTooManyConflicts, a.res.Conflicts, r.err)
		}
		a.s.log.V(1).Info("VM start lost a race, evaluating again", "vm", a.key, "error", r.err.Error())
		return nil
	}
	if apierrors.IsInternalError(r.cause) {
		if a.serverErr++; a.serverErr <= a.s.opts.MaxRetries {
			a.s.log.Info("KubeVirt answered a server error, retrying",
				"vm", a.key, "attempt", a.serverErr, "error", r.err.Error())
			return nil
		}
	}
	a.res.Reason = ReasonRejected
	return r.cause
}

// waitForStop pauses while the VirtualMachine stops: until the call's
// deadline, or Options.StopTimeout for a call without one.
func (a *attempt) waitForStop() error {
	if a.waitSince.IsZero() {
		a.waitSince = time.Now()
	}
	a.res.Waited = time.Since(a.waitSince)
	if !a.bounded && a.res.Waited+a.backoff.Duration > a.s.opts.StopTimeout {
		a.res.Reason = ReasonStillStopping
		return fmt.Errorf("%w after %s", ErrStillStopping, a.res.Waited.Round(time.Millisecond))
	}
	a.s.log.V(1).Info("VM is stopping, waiting before starting it", "vm", a.key, "waited", a.res.Waited)
	err := a.pause(retryStopping)
	a.res.Waited = time.Since(a.waitSince)
	if err != nil {
		a.res.Reason = ReasonStillStopping
		return fmt.Errorf("%w after %s: %w", ErrStillStopping, a.res.Waited.Round(time.Millisecond), err)
	}
	return nil
}

// retryTransient pauses after a transient error, or gives up: at the call's
// deadline, or after MaxRetries for a call without one.
func (a *attempt) retryTransient(err error) error {
	a.lastErr = err
	if a.transient++; !a.bounded && a.transient > a.s.opts.MaxRetries {
		return err
	}
	if a.transient == 1 || a.transient%10 == 0 {
		a.s.log.Info("API request failed, retrying", "vm", a.key, "attempt", a.transient, "error", err.Error())
	}
	if perr := a.pause(retryTransient); perr != nil {
		return fmt.Errorf("%w (last error: %w)", perr, err)
	}
	return nil
}

// pause waits for the next backoff step, or until ctx is done.
func (a *attempt) pause(r retry) error {
	a.s.m.retries[r].Inc()
	t := time.NewTimer(a.backoff.Step())
	defer t.Stop()
	select {
	case <-a.ctx.Done():
		return a.ctx.Err()
	case <-t.C:
		return nil
	}
}

// basis is what a decision about vm and vmi rests on: the run strategy, the
// pending state change requests, what blocks a start or an unpause, and
// which instance exists in what phase, and whether the status is still
// entirely empty (the direct path's state change request then tests that it
// is, and virt-controller's first status write makes that test fail).
// virt-controller rewrites other parts of the status all the time; a change
// there does not explain a refusal.
func basis(vm *kubevirtv1.VirtualMachine, vmi *kubevirtv1.VirtualMachineInstance) string {
	var b strings.Builder
	rs, err := vm.RunStrategy()
	emptyStatus := equality.Semantic.DeepEqual(vm.Status, kubevirtv1.VirtualMachineStatus{})
	fmt.Fprintf(&b, "%s %v %t %t %q %t|", rs, err != nil, vm.DeletionTimestamp != nil,
		vmCondition(vm, kubevirtv1.VirtualMachineManualRecoveryRequired), ptrString(vm.Status.SnapshotInProgress),
		emptyStatus)
	for _, r := range vm.Status.StateChangeRequests {
		fmt.Fprintf(&b, "%s:%s,", r.Action, ptrString((*string)(r.UID)))
	}
	if vmi != nil {
		fmt.Fprintf(&b, "|%s %s %t %t", vmi.UID, vmi.Status.Phase, vmi.DeletionTimestamp != nil, instancePaused(vmi))
	}
	return b.String()
}

// causeOf returns the API server's error inside a classified one.
func causeOf(err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if e, ok := status.(error); ok {
			return e
		}
	}
	return err
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var (
	// errMaybeLostRace: the write was refused in a way another writer may
	// have caused; read again to tell (see refusal).
	errMaybeLostRace = errors.New("refused, maybe after a concurrent change")
	// errAPIGone: the subresource API answered 404 and discovery no longer
	// shows it registered; evaluate again with direct patches (APIFallback).
	errAPIGone = errors.New("subresource API not registered")
)

func (s *Starter) read(
	ctx context.Context,
	key types.NamespacedName,
) (*kubevirtv1.VirtualMachine, *kubevirtv1.VirtualMachineInstance, error) {
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
func (s *Starter) start(
	ctx context.Context,
	vm *kubevirtv1.VirtualMachine,
	vmi *kubevirtv1.VirtualMachineInstance,
	path Path,
) (Outcome, error) {
	if path == PathDirect {
		return s.startDirect(ctx, vm, vmi)
	}
	err := s.client.VirtualMachines(vm.Namespace).Start(ctx, vm.Name, &kubevirtv1.StartOptions{})
	if err == nil {
		return Started, nil
	}
	return 0, s.subresourceError(ctx, err)
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
	return 0, s.subresourceError(ctx, err)
}

// subresourceError classifies an error of the subresource API.
func (s *Starter) subresourceError(ctx context.Context, err error) error {
	switch {
	case apierrors.IsConflict(err), apierrors.IsInternalError(err):
		// virt-api answers 409 when the VirtualMachine is already running
		// (or for reasons that do not go away, such as a snapshot in
		// progress), 500 when its JSON-patch test failed or a request is
		// already pending: read again to tell.
		return fmt.Errorf("%w: %w", errMaybeLostRace, err)
	case apierrors.IsNotFound(err):
		// Either the VirtualMachine is gone (reading it again says so) or
		// the API is not registered.
		s.probe.invalidate()
		if registered, perr := s.registered(ctx); perr == nil && !registered {
			if APIMode(s.api.Load()) == APIFallback {
				return fmt.Errorf("%w: %w", errAPIGone, err)
			}
			return fmt.Errorf("%w: %w", ErrSubresourceNotServed, err)
		}
		return fmt.Errorf("%w: %w", errMaybeLostRace, err)
	}
	// 503 (virt-api registered but not answering) and other transient
	// errors are retried by the caller until the deadline; never a reason
	// to patch the VirtualMachine instead.
	return err
}

// http2ConnectionClosed reports the error of a request whose HTTP/2
// connection was closed under it (net/http's errClientConnForceClosed, which
// has no exported value; apimachinery's utilnet helpers match such errors by
// text too).
func http2ConnectionClosed(err error) bool {
	return strings.Contains(err.Error(), "http2: client connection force closed")
}

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
		utilnet.IsHTTP2ConnectionLost(err) || http2ConnectionClosed(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
