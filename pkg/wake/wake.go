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

// Package wake is the stage of the packet path between the receiver and the
// starter: for each admitted wake it resolves the target MAC address to a
// VirtualMachine, checks the SecureOn password that VirtualMachine requires,
// bounds the wake by its deadline and asks the starter to start it.
// Refusals are counted, logged and recorded as events on the VirtualMachine;
// a wake still not done at its deadline is abandoned and counted.
//
// It depends only on small interfaces — resolve a MAC ([Resolver], the VM
// index), start a VM ([Starter], pkg/vmstarter), read a Secret
// ([SecretReader]) and record events — so its policy is tested without
// sockets or an API server. internal/listenerapp wires it between
// pkg/receiver and pkg/vmstarter.
package wake

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/promreg"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// Event reasons the handler records on a VirtualMachine when a wake for it
// is refused by its SecureOn policy (Warning). Starts, refusals by KubeVirt
// and failures are recorded by the starter (see pkg/vmstarter).
const (
	// EventReasonSecureOnRefused: a magic packet carried no password or the
	// wrong one.
	EventReasonSecureOnRefused = "WakeRefusedSecureOn"
	// EventReasonSecureOnUnavailable: the VirtualMachine needs a password
	// that cannot be read (Secret or key missing, access denied), so no
	// packet can wake it.
	EventReasonSecureOnUnavailable = "SecureOnPasswordUnavailable"
	// EventReasonSecureOnInvalid: the password in the Secret is not 4 or 6
	// bytes (or one of the text forms), so no packet can wake the
	// VirtualMachine.
	EventReasonSecureOnInvalid = "SecureOnPasswordInvalid"
)

// Resolver finds the VirtualMachine a MAC address wakes (*vmindex.Index).
type Resolver interface {
	Target(mac wol.MAC) (vmindex.Target, vmindex.Resolution)
}

// Starter starts a VirtualMachine the way `virtctl start` does
// (*vmstarter.Starter).
type Starter interface {
	Start(ctx context.Context, key types.NamespacedName, origin vmstarter.Origin) (vmstarter.Result, error)
}

// SecretReader reads one Secret (a client-go Secrets(namespace).Get).
type SecretReader func(ctx context.Context, namespace, name string) (*corev1.Secret, error)

// EventRecorder records an event on an object; client-go's
// record.EventRecorder satisfies it.
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// Policy is the part of the WolConfig applied to every wake.
type Policy struct {
	// Deadline bounds a wake, from the moment its packet was received.
	Deadline time.Duration
	// SecureOnKey is the key of the WolConfig-wide SecureOn password in the
	// operator namespace's Secret; "" for none.
	SecureOnKey string
}

// PolicyOf is the Policy of a WolConfig spec (zero values, which the API
// server defaults, mean the API's defaults).
func PolicyOf(spec wolv1beta1.WolConfigSpec) Policy {
	p := Policy{Deadline: time.Duration(wolv1beta1.DefaultWakeDeadlineSeconds) * time.Second}
	if spec.WakeDeadlineSeconds != nil && *spec.WakeDeadlineSeconds > 0 {
		p.Deadline = time.Duration(*spec.WakeDeadlineSeconds) * time.Second
	}
	if spec.SecureOn != nil {
		p.SecureOnKey = spec.SecureOn.PasswordKey
	}
	return p
}

// refusal is why the SecureOn check refused a wake (label "reason" of
// wol_wakes_refused_total).
type refusal uint8

const (
	refusedNone        refusal = iota
	refusedMissing             // the packet carries no password, one is required
	refusedWrong               // the packet carries another password
	refusedUnavailable         // the required password cannot be read
	refusedInvalid             // the required password is not a valid one
	numRefusals
)

var refusalNames = [numRefusals]string{
	"", "password_missing", "password_wrong", "password_unavailable", "password_invalid",
}

// Options configure a Handler.
type Options struct {
	// Resolver, Starter and Secrets are the handler's collaborators
	// (required).
	Resolver Resolver
	Starter  Starter
	Secrets  SecretReader
	// Events records SecureOn refusals on VirtualMachines; nil records none.
	Events EventRecorder
	// Namespace is the operator's namespace, where the Secret holding a
	// WolConfig-wide SecureOn password is.
	Namespace string
	// Registerer receives the handler's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives structured logs.
	Log logr.Logger
	// SecretBackoff paces the retries of a Secret read that failed with a
	// transient error, until the wake's deadline. Default: 100 ms doubling
	// to 2 s.
	SecretBackoff wait.Backoff
}

// Handler turns an admitted wake into a start: it looks the target MAC up
// and, if exactly one VirtualMachine owns it and the packet carries the
// SecureOn password that VirtualMachine requires (if any), starts it before
// the wake's deadline. It implements receiver.WakeHandler.
type Handler struct {
	opts   Options
	log    logr.Logger
	policy atomic.Pointer[Policy]

	lookups *prometheus.CounterVec
	refused [numRefusals]prometheus.Counter
	expired prometheus.Counter
}

// New returns a Handler with the default Policy.
func New(opts Options) (*Handler, error) {
	if opts.Resolver == nil || opts.Starter == nil || opts.Secrets == nil {
		return nil, errors.New("wake: a Resolver, a Starter and a SecretReader are required")
	}
	if opts.SecretBackoff.Duration == 0 {
		opts.SecretBackoff = wait.Backoff{
			Duration: 100 * time.Millisecond,
			Factor:   2,
			Cap:      2 * time.Second,
			Steps:    1 << 30,
		}
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_wake_lookups_total",
		Help: "Admitted wakes by the result of looking their target MAC up in the VM index: " +
			"found, not_found, conflict (several VMs have the MAC) " +
			"or mapped_vm_missing (Explicit mapping to a VM that does not exist).",
	}, []string{"result"})
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_wakes_refused_total",
		Help: "Wakes for a VM that requires a SecureOn password, refused by reason: " +
			"password_missing (the packet has none), password_wrong, " +
			"password_unavailable (the Secret or key cannot be read), password_invalid (not 4 or 6 bytes).",
	}, []string{"reason"})
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wol_wakes_expired_total",
		Help: "Wakes abandoned because their deadline (spec.wakeDeadlineSeconds after the packet was received) passed " +
			"before the VM could be started, " +
			"typically while the API server or virt-api was unreachable, or the VM still stopping.",
	})
	if opts.Registerer != nil {
		var err error
		if lookups, err = promreg.Register(opts.Registerer, lookups); err != nil {
			return nil, err
		}
		if refused, err = promreg.Register(opts.Registerer, refused); err != nil {
			return nil, err
		}
		if expired, err = promreg.Register(opts.Registerer, expired); err != nil {
			return nil, err
		}
	}
	for _, r := range []vmindex.Resolution{vmindex.NotFound, vmindex.Found, vmindex.Conflict, vmindex.MappedVMMissing} {
		lookups.WithLabelValues(r.String())
	}
	h := &Handler{opts: opts, log: opts.Log, lookups: lookups, expired: expired}
	for r := refusedMissing; r < numRefusals; r++ {
		h.refused[r] = refused.WithLabelValues(refusalNames[r])
	}
	p := PolicyOf(wolv1beta1.WolConfigSpec{})
	h.policy.Store(&p)
	return h, nil
}

// SetPolicy applies p to the wakes handled from now on.
func (h *Handler) SetPolicy(p Policy) {
	if old := h.policy.Swap(&p); *old != p {
		h.log.Info("Wake policy set", "deadline", p.Deadline, "secureOnKey", p.SecureOnKey != "")
	}
}

// HandleWake implements receiver.WakeHandler.
func (h *Handler) HandleWake(ctx context.Context, w receiver.Wake) error {
	pol := h.policy.Load()
	received := w.Origin.ReceivedAt
	if received.IsZero() {
		received = time.Now()
	}
	deadline := received.Add(pol.Deadline)
	if !time.Now().Before(deadline) {
		h.expire(w, types.NamespacedName{}, deadline, errors.New("the deadline passed while the wake was queued"))
		return nil
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	target, res := h.opts.Resolver.Target(w.Target)
	h.lookups.WithLabelValues(res.String()).Inc()
	if res != vmindex.Found {
		h.log.V(1).Info("Magic packet for no wakeable VirtualMachine",
			"mac", w.Target.String(), "lookup", res.String(), "protocol", w.Origin.Protocol.String(),
			"port", w.Origin.Port, "source", sourceOf(w.Origin))
		return nil
	}

	if r, err := h.checkSecureOn(ctx, target, &w, pol); r != refusedNone {
		h.refuse(w, target, r, err)
		return nil
	} else if err != nil {
		if expiredErr(ctx, err) {
			h.expire(w, target.VM, deadline, err)
			return nil
		}
		return err
	}

	started, err := h.opts.Starter.Start(ctx, target.VM, OriginOf(w.Origin))
	if err != nil && (started.Reason == vmstarter.ReasonDeadlineExceeded || expiredErr(ctx, err)) {
		h.expire(w, target.VM, deadline, err)
		return nil
	}
	return err
}

// expiredErr reports whether err comes from the wake's own deadline (not
// from the listener stopping).
func expiredErr(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// expire counts and logs a wake abandoned at its deadline.
func (h *Handler) expire(w receiver.Wake, vm types.NamespacedName, deadline time.Time, err error) {
	h.expired.Inc()
	h.log.Error(err, "Wake expired before the VM could be started", "vm", vm.String(), "mac", w.Target.String(),
		"protocol", w.Origin.Protocol.String(), "source", sourceOf(w.Origin), "received", w.Origin.ReceivedAt,
		"deadline", deadline)
}

// checkSecureOn decides whether the packet carries the password the VM
// requires: its own (annotation) if it names one, else the WolConfig's, else
// none. It returns a refusal, or refusedNone and nil when the wake may go on,
// or refusedNone and the error of a Secret that could not be read before the
// deadline.
func (h *Handler) checkSecureOn(ctx context.Context, t vmindex.Target, w *receiver.Wake, pol *Policy) (refusal, error) {
	namespace, key := t.VM.Namespace, t.SecureOnKey
	if key == "" {
		namespace, key = h.opts.Namespace, pol.SecureOnKey
	}
	if key == "" {
		return refusedNone, nil // no password required; one in the packet is ignored
	}
	if namespace == "" {
		return refusedUnavailable, errors.New("the listener does not know the operator's namespace (--namespace)")
	}
	secret, err := h.getSecret(ctx, namespace)
	switch {
	case apierrors.IsNotFound(err):
		return refusedUnavailable, fmt.Errorf("secret %s/%s does not exist", namespace, wolv1beta1.SecureOnSecretName)
	case apierrors.IsForbidden(err):
		return refusedUnavailable, fmt.Errorf(
			"reading secret %s/%s is not allowed (the operator grants it once it sees the VM): %w",
			namespace, wolv1beta1.SecureOnSecretName, err)
	case err != nil:
		return refusedNone, err
	}
	value, ok := secret.Data[key]
	if !ok {
		return refusedUnavailable, fmt.Errorf("secret %s/%s has no key %q",
			namespace, wolv1beta1.SecureOnSecretName, key)
	}
	want, err := wol.ParsePassword(value)
	if err != nil {
		return refusedInvalid, fmt.Errorf("key %q of secret %s/%s: %w",
			key, namespace, wolv1beta1.SecureOnSecretName, err)
	}
	switch {
	case want.Matches(&w.Packet):
		return refusedNone, nil
	case !w.HasPassword():
		return refusedMissing, nil
	default:
		return refusedWrong, nil
	}
}

// getSecret reads the SecureOn Secret of namespace, retrying transient
// errors (the API server unreachable) with backoff until ctx is done.
func (h *Handler) getSecret(ctx context.Context, namespace string) (*corev1.Secret, error) {
	backoff := h.opts.SecretBackoff
	for {
		s, err := h.opts.Secrets(ctx, namespace, wolv1beta1.SecureOnSecretName)
		if err == nil || !vmstarter.IsTransient(err) {
			return s, err
		}
		t := time.NewTimer(backoff.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// refuse counts, logs and records an event for a wake the SecureOn policy
// refused. Neither the expected password nor the packet's is ever logged.
func (h *Handler) refuse(w receiver.Wake, t vmindex.Target, r refusal, err error) {
	h.refused[r].Inc()
	kv := []any{"vm", t.VM.String(), "reason", refusalNames[r], "mac", w.Target.String(),
		"protocol", w.Origin.Protocol.String(), "port", w.Origin.Port, "source", sourceOf(w.Origin),
		"passwordLength", int(w.PasswordLen)}
	var eventReason, msg string
	wasRefused := "A Wake-on-LAN magic packet from " + OriginOf(w.Origin).String() + " was refused: "
	switch r {
	case refusedMissing:
		h.log.Info("Wake refused", kv...)
		eventReason, msg = EventReasonSecureOnRefused, wasRefused+"it carries no SecureOn password"
	case refusedWrong:
		h.log.Info("Wake refused", kv...)
		eventReason, msg = EventReasonSecureOnRefused, wasRefused+"wrong SecureOn password"
	case refusedUnavailable:
		h.log.Error(err, "Wake refused", kv...)
		eventReason = EventReasonSecureOnUnavailable
		msg = wasRefused + "the SecureOn password this VM requires cannot be read: " + err.Error()
	case refusedInvalid:
		h.log.Error(err, "Wake refused", kv...)
		eventReason = EventReasonSecureOnInvalid
		msg = wasRefused + "the SecureOn password this VM requires is invalid: " + err.Error()
	}
	if h.opts.Events != nil {
		h.opts.Events.Event(&corev1.ObjectReference{
			APIVersion: kubevirtv1.VirtualMachineGroupVersionKind.GroupVersion().String(),
			Kind:       kubevirtv1.VirtualMachineGroupVersionKind.Kind,
			Namespace:  t.VM.Namespace, Name: t.VM.Name, UID: t.UID,
		}, corev1.EventTypeWarning, eventReason, msg)
	}
}

// OriginOf converts the receiver's packet origin into the starter's.
func OriginOf(o receiver.Origin) vmstarter.Origin {
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

func sourceOf(o receiver.Origin) string {
	if o.Protocol == receiver.ProtocolRaw {
		return o.SourceMAC.String()
	}
	return o.Source.String()
}
