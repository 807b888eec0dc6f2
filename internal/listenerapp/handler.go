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
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/promreg"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// DefaultWakeDeadline is the wake deadline when the WolConfig leaves
// spec.wakeDeadlineSeconds unset (the API server defaults it to the same).
const DefaultWakeDeadline = 60 * time.Second

// Event reasons the listener records on a VirtualMachine when a wake for it
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

var refusalNames = [numRefusals]string{"", "password_missing", "password_wrong", "password_unavailable", "password_invalid"}

// policy is the part of the WolConfig the handler applies to every wake.
type policy struct {
	deadline    time.Duration
	secureOnKey string // WolConfig-wide password key; "" for none
	startAPI    vmstarter.APIMode
}

func policyOf(spec wolv1beta1.WolConfigSpec) *policy {
	p := &policy{deadline: DefaultWakeDeadline, startAPI: vmstarter.APISubresource}
	if spec.DirectPatchFallback {
		p.startAPI = vmstarter.APIFallback
	}
	if spec.WakeDeadlineSeconds != nil && *spec.WakeDeadlineSeconds > 0 {
		p.deadline = time.Duration(*spec.WakeDeadlineSeconds) * time.Second
	}
	if spec.SecureOn != nil {
		p.secureOnKey = spec.SecureOn.PasswordKey
	}
	return p
}

// secretGetter reads one Secret (a client-go Secrets(namespace).Get).
type secretGetter func(ctx context.Context, namespace, name string) (*corev1.Secret, error)

// wakeHandler turns an admitted wake into a start: it looks the target MAC
// up in the index and, if exactly one VM owns it and the packet carries the
// SecureOn password that VM requires (if any), starts that VM before the
// wake's deadline.
type wakeHandler struct {
	index     *vmindex.Index
	starter   *vmstarter.Starter
	secrets   secretGetter
	events    record.EventRecorder // may be nil
	namespace string               // the operator's namespace (WolConfig-wide Secret)
	backoff   time.Duration        // first pause after a transient error reading a Secret
	log       logr.Logger
	policy    atomic.Pointer[policy]

	lookups *prometheus.CounterVec
	refused [numRefusals]prometheus.Counter
	expired prometheus.Counter
}

func newWakeHandler(index *vmindex.Index, starter *vmstarter.Starter, kube *kubeAPI, events record.EventRecorder,
	namespace string, reg prometheus.Registerer, log logr.Logger) (*wakeHandler, error) {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_wake_lookups_total",
		Help: "Admitted wakes by the result of looking their target MAC up in the VM index: " +
			"found, not_found, conflict (several VMs have the MAC) or mapped_vm_missing (Explicit mapping to a VM that does not exist).",
	}, []string{"result"})
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wol_wakes_refused_total",
		Help: "Wakes for a VM that requires a SecureOn password, refused by reason: password_missing (the packet has none), " +
			"password_wrong, password_unavailable (the Secret or key cannot be read), password_invalid (not 4 or 6 bytes).",
	}, []string{"reason"})
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wol_wakes_expired_total",
		Help: "Wakes abandoned because their deadline (spec.wakeDeadlineSeconds after the packet was received) passed " +
			"before the VM could be started, typically while the API server was unreachable.",
	})
	var err error
	if lookups, err = promreg.Register(reg, lookups); err != nil {
		return nil, err
	}
	if refused, err = promreg.Register(reg, refused); err != nil {
		return nil, err
	}
	if expired, err = promreg.Register(reg, expired); err != nil {
		return nil, err
	}
	for _, r := range []vmindex.Resolution{vmindex.NotFound, vmindex.Found, vmindex.Conflict, vmindex.MappedVMMissing} {
		lookups.WithLabelValues(r.String())
	}
	h := &wakeHandler{
		index: index, starter: starter, events: events, namespace: namespace,
		backoff: 100 * time.Millisecond, log: log, lookups: lookups, expired: expired,
		secrets: func(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
			return kube.getSecret(ctx, namespace, name)
		},
	}
	for r := refusedMissing; r < numRefusals; r++ {
		h.refused[r] = refused.WithLabelValues(refusalNames[r])
	}
	h.policy.Store(policyOf(wolv1beta1.WolConfigSpec{}))
	return h, nil
}

// setPolicy applies the policy of an updated WolConfig to the wakes handled
// from now on.
func (h *wakeHandler) setPolicy(spec wolv1beta1.WolConfigSpec) {
	p := policyOf(spec)
	h.starter.SetAPI(p.startAPI)
	if old := h.policy.Swap(p); *old != *p {
		h.log.Info("Wake policy set", "deadline", p.deadline, "secureOnKey", p.secureOnKey != "", "startAPI", p.startAPI.String())
	}
}

// HandleWake implements receiver.WakeHandler.
func (h *wakeHandler) HandleWake(ctx context.Context, w receiver.Wake) error {
	pol := h.policy.Load()
	received := w.Origin.ReceivedAt
	if received.IsZero() {
		received = time.Now()
	}
	deadline := received.Add(pol.deadline)
	if !time.Now().Before(deadline) {
		h.expire(w, types.NamespacedName{}, deadline, errors.New("the deadline passed while the wake was queued"))
		return nil
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	target, res := h.index.Target(w.Target)
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

	started, err := h.starter.Start(ctx, target.VM, originOf(w.Origin))
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
func (h *wakeHandler) expire(w receiver.Wake, vm types.NamespacedName, deadline time.Time, err error) {
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
func (h *wakeHandler) checkSecureOn(ctx context.Context, t vmindex.Target, w *receiver.Wake, pol *policy) (refusal, error) {
	namespace, key := t.VM.Namespace, t.SecureOnKey
	if key == "" {
		namespace, key = h.namespace, pol.secureOnKey
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
		return refusedUnavailable, fmt.Errorf("reading secret %s/%s is not allowed (the operator grants it once it sees the VM): %w",
			namespace, wolv1beta1.SecureOnSecretName, err)
	case err != nil:
		return refusedNone, err
	}
	value, ok := secret.Data[key]
	if !ok {
		return refusedUnavailable, fmt.Errorf("secret %s/%s has no key %q", namespace, wolv1beta1.SecureOnSecretName, key)
	}
	want, err := wol.ParsePassword(value)
	if err != nil {
		return refusedInvalid, fmt.Errorf("key %q of secret %s/%s: %w", key, namespace, wolv1beta1.SecureOnSecretName, err)
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
// errors (the API server unreachable) until ctx is done.
func (h *wakeHandler) getSecret(ctx context.Context, namespace string) (*corev1.Secret, error) {
	backoff := h.backoff
	for {
		s, err := h.secrets(ctx, namespace, wolv1beta1.SecureOnSecretName)
		if err == nil || !vmstarter.IsTransient(err) {
			return s, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// refuse counts, logs and records an event for a wake the SecureOn policy
// refused. Neither the expected password nor the packet's is ever logged.
func (h *wakeHandler) refuse(w receiver.Wake, t vmindex.Target, r refusal, err error) {
	h.refused[r].Inc()
	kv := []any{"vm", t.VM.String(), "reason", refusalNames[r], "mac", w.Target.String(),
		"protocol", w.Origin.Protocol.String(), "port", w.Origin.Port, "source", sourceOf(w.Origin),
		"passwordLength", int(w.PasswordLen)}
	var eventReason, msg string
	from := originOf(w.Origin).String()
	switch r {
	case refusedMissing:
		h.log.Info("Wake refused", kv...)
		eventReason, msg = EventReasonSecureOnRefused, "A Wake-on-LAN magic packet from "+from+" was refused: it carries no SecureOn password"
	case refusedWrong:
		h.log.Info("Wake refused", kv...)
		eventReason, msg = EventReasonSecureOnRefused, "A Wake-on-LAN magic packet from "+from+" was refused: wrong SecureOn password"
	case refusedUnavailable:
		h.log.Error(err, "Wake refused", kv...)
		eventReason = EventReasonSecureOnUnavailable
		msg = "A Wake-on-LAN magic packet from " + from + " was refused: the SecureOn password this VM requires cannot be read: " + err.Error()
	case refusedInvalid:
		h.log.Error(err, "Wake refused", kv...)
		eventReason = EventReasonSecureOnInvalid
		msg = "A Wake-on-LAN magic packet from " + from + " was refused: the SecureOn password this VM requires is invalid: " + err.Error()
	}
	if h.events != nil {
		h.events.Event(&corev1.ObjectReference{
			APIVersion: kubevirtv1.VirtualMachineGroupVersionKind.GroupVersion().String(),
			Kind:       kubevirtv1.VirtualMachineGroupVersionKind.Kind,
			Namespace:  t.VM.Namespace, Name: t.VM.Name, UID: t.UID,
		}, corev1.EventTypeWarning, eventReason, msg)
	}
}

// originOf converts the packet engine's origin into the starter's.
func originOf(o receiver.Origin) vmstarter.Origin {
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
