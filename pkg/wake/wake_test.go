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

package wake_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const operatorNS = "kubevirt-wol-system"

var (
	macLocked = wol.MAC{0x52, 0x54, 0, 0, 0, 1} // a VM with its own password key
	macOpen   = wol.MAC{0x52, 0x54, 0, 0, 0, 2} // a VM without one
	vmLocked  = types.NamespacedName{Namespace: "lab", Name: "locked"}
	vmOpen    = types.NamespacedName{Namespace: "lab", Name: "open"}
	secretGR  = schema.GroupResource{Resource: "secrets"}
)

// resolver is the VM index's part: two VMs, and MACs with other results.
type resolver map[wol.MAC]vmindex.Target

func (r resolver) Target(mac wol.MAC) (vmindex.Target, vmindex.Resolution) {
	switch mac {
	case wol.MAC{0x52, 0x54, 0, 0, 0, 0xc}:
		return vmindex.Target{}, vmindex.Conflict
	case wol.MAC{0x52, 0x54, 0, 0, 0, 0xd}:
		return vmindex.Target{}, vmindex.MappedVMMissing
	}
	if t, ok := r[mac]; ok {
		return t, vmindex.Found
	}
	return vmindex.Target{}, vmindex.NotFound
}

// starter records its calls and answers with result and err.
type starter struct {
	mu       sync.Mutex
	calls    []types.NamespacedName
	deadline time.Time
	result   vmstarter.Result
	err      error
}

func (s *starter) Start(ctx context.Context, key types.NamespacedName, _ vmstarter.Origin) (vmstarter.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, key)
	s.deadline, _ = ctx.Deadline()
	return s.result, s.err
}

// recorder keeps the events recorded.
type recorder struct {
	mu     sync.Mutex
	events []string // "type reason name: message"
}

func (r *recorder) Event(obj runtime.Object, eventtype, reason, message string) {
	ref, ok := obj.(*corev1.ObjectReference)
	if !ok || ref.Kind != "VirtualMachine" {
		panic("events are recorded on a VirtualMachine reference")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+" "+ref.Namespace+"/"+ref.Name+": "+message)
}

// secrets answers for the SecureOn Secret of a namespace: its data, or an
// error; failures transient errors before answering.
type secrets struct {
	data     map[string]map[string][]byte
	errs     map[string]error
	failures int
}

func (s *secrets) read(_ context.Context, namespace, name string) (*corev1.Secret, error) {
	if name != wolv1beta1.SecureOnSecretName {
		return nil, apierrors.NewForbidden(secretGR, name, errors.New("only the SecureOn Secret"))
	}
	if s.failures > 0 {
		s.failures--
		return nil, apierrors.NewServiceUnavailable("the API server is restarting")
	}
	if err := s.errs[namespace]; err != nil {
		return nil, err
	}
	d, ok := s.data[namespace]
	if !ok {
		return nil, apierrors.NewNotFound(secretGR, name)
	}
	return &corev1.Secret{Data: d}, nil
}

// packet is a magic packet for mac, carrying the SecureOn password pw
// (none if nil), just received from a UDP sender.
func packet(mac wol.MAC, pw []byte) receiver.Wake {
	w := receiver.Wake{Origin: receiver.Origin{
		Protocol: receiver.ProtocolUDP4, Port: 9, Source: netip.MustParseAddrPort("192.0.2.7:40000"),
		Interface: "eth0", ReceivedAt: time.Now(),
	}}
	w.Target = mac
	w.PasswordLen = uint8(copy(w.Password[:], pw))
	return w
}

type fixture struct {
	h       *wake.Handler
	starter *starter
	events  *recorder
	reg     *prometheus.Registry
}

func newFixture(t *testing.T, s *secrets, pol wake.Policy) fixture {
	t.Helper()
	f := fixture{starter: &starter{result: vmstarter.Result{Outcome: vmstarter.Started}}, events: &recorder{}, reg: prometheus.NewRegistry()}
	h, err := wake.New(wake.Options{
		Resolver: resolver{
			macLocked: {VM: vmLocked, UID: "uid-locked", SecureOnKey: "locked"},
			macOpen:   {VM: vmOpen, UID: "uid-open"},
		},
		Starter: f.starter, Secrets: s.read, Events: f.events, Namespace: operatorNS,
		Registerer: f.reg, Log: logr.Discard(),
		SecretBackoff: wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 1 << 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.SetPolicy(pol)
	f.h = h
	return f
}

func TestSecureOn(t *testing.T) {
	// Passwords as a Secret holds them (text) and as a packet carries them.
	const six, four, other = "aa:bb:cc:dd:ee:ff", "10.20.30.40", "01:02:03:04:05:06"
	sixB, fourB, otherB := []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, []byte{10, 20, 30, 40}, []byte{1, 2, 3, 4, 5, 6}
	wolconfigWide := wake.Policy{Deadline: time.Minute, SecureOnKey: "office"}
	noneRequired := wake.Policy{Deadline: time.Minute}
	withLab := func(data map[string][]byte) *secrets {
		return &secrets{data: map[string]map[string][]byte{"lab": data, operatorNS: {"office": []byte(four)}}}
	}
	for _, tc := range []struct {
		name    string
		secrets *secrets
		policy  wake.Policy
		wake    receiver.Wake
		// refused is the reason counted (and the event recorded), "" when
		// the wake reaches the starter.
		refused, event string
	}{
		{"no password required", withLab(nil), noneRequired, packet(macOpen, nil), "", ""},
		{"no password required: one in the packet is ignored", withLab(nil), noneRequired, packet(macOpen, sixB), "", ""},
		{"the VM's own password, right", withLab(map[string][]byte{"locked": []byte(six)}), noneRequired, packet(macLocked, sixB), "", ""},
		{"the VM's own password, four bytes, right", withLab(map[string][]byte{"locked": []byte(four)}), noneRequired, packet(macLocked, fourB), "", ""},
		{"the VM's own password, none in the packet", withLab(map[string][]byte{"locked": []byte(six)}), noneRequired, packet(macLocked, nil),
			"password_missing", wake.EventReasonSecureOnRefused},
		{"the VM's own password, wrong", withLab(map[string][]byte{"locked": []byte(six)}), noneRequired, packet(macLocked, otherB),
			"password_wrong", wake.EventReasonSecureOnRefused},
		{"the VM's own password rather than the WolConfig's", withLab(map[string][]byte{"locked": []byte(six)}), wolconfigWide, packet(macLocked, fourB),
			"password_wrong", wake.EventReasonSecureOnRefused},
		{"the WolConfig's password, right", withLab(nil), wolconfigWide, packet(macOpen, fourB), "", ""},
		{"the WolConfig's password, none in the packet", withLab(nil), wolconfigWide, packet(macOpen, nil),
			"password_missing", wake.EventReasonSecureOnRefused},
		{"the Secret does not exist", &secrets{}, noneRequired, packet(macLocked, sixB),
			"password_unavailable", wake.EventReasonSecureOnUnavailable},
		{"reading the Secret is forbidden", &secrets{errs: map[string]error{"lab": apierrors.NewForbidden(secretGR, "x", errors.New("no"))}},
			noneRequired, packet(macLocked, sixB), "password_unavailable", wake.EventReasonSecureOnUnavailable},
		{"the Secret has no such key", withLab(map[string][]byte{"other": []byte(six)}), noneRequired, packet(macLocked, sixB),
			"password_unavailable", wake.EventReasonSecureOnUnavailable},
		{"the password in the Secret is 5 bytes", withLab(map[string][]byte{"locked": []byte("abcde")}), noneRequired, packet(macLocked, sixB),
			"password_invalid", wake.EventReasonSecureOnInvalid},
		{"the Secret answers after two transient errors", func() *secrets {
			s := withLab(map[string][]byte{"locked": []byte(six)})
			s.failures = 2
			return s
		}(), noneRequired, packet(macLocked, sixB), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.secrets, tc.policy)
			if err := f.h.HandleWake(context.Background(), tc.wake); err != nil {
				t.Fatalf("HandleWake: %v", err)
			}
			started := len(f.starter.calls) == 1
			if started != (tc.refused == "") {
				t.Fatalf("starter called %d times, refusal %q", len(f.starter.calls), tc.refused)
			}
			for _, r := range []string{"password_missing", "password_wrong", "password_unavailable", "password_invalid"} {
				want := 0.0
				if r == tc.refused {
					want = 1
				}
				if got := metrictest.Value(f.reg, "wol_wakes_refused_total", "reason", r); got != want {
					t.Errorf("wol_wakes_refused_total{reason=%q} = %v, want %v", r, got, want)
				}
			}
			if tc.event == "" {
				if len(f.events.events) != 0 {
					t.Errorf("events %v, want none", f.events.events)
				}
				return
			}
			if len(f.events.events) != 1 || !strings.HasPrefix(f.events.events[0], "Warning "+tc.event+" lab/") ||
				!strings.Contains(f.events.events[0], "192.0.2.7:40000") {
				t.Errorf("events %v, want one %s naming the sender", f.events.events, tc.event)
			}
			for _, pw := range []string{six, four, other, "abcde"} {
				if strings.Contains(f.events.events[0], pw) {
					t.Errorf("the event shows a password: %s", f.events.events[0])
				}
			}
		})
	}
}

func TestLookups(t *testing.T) {
	f := newFixture(t, &secrets{}, wake.Policy{Deadline: time.Minute})
	for _, mac := range []wol.MAC{macOpen, {0x52, 0x54, 0, 0, 0, 0xc}, {0x52, 0x54, 0, 0, 0, 0xd}, {0x52, 0x54, 0, 0, 0, 0xe}} {
		if err := f.h.HandleWake(context.Background(), packet(mac, nil)); err != nil {
			t.Fatal(err)
		}
	}
	for result, want := range map[string]float64{"found": 1, "conflict": 1, "mapped_vm_missing": 1, "not_found": 1} {
		if got := metrictest.Value(f.reg, "wol_wake_lookups_total", "result", result); got != want {
			t.Errorf("lookups{result=%q} = %v, want %v", result, got, want)
		}
	}
	if len(f.starter.calls) != 1 || f.starter.calls[0] != vmOpen {
		t.Errorf("starts %v: only the one VM found is started", f.starter.calls)
	}
}

func TestDeadline(t *testing.T) {
	t.Run("the wake carries its deadline, counted from the packet", func(t *testing.T) {
		f := newFixture(t, &secrets{}, wake.Policy{Deadline: 7 * time.Second})
		w := packet(macOpen, nil)
		w.Origin.ReceivedAt = time.Now().Add(-2 * time.Second)
		if err := f.h.HandleWake(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		if want := w.Origin.ReceivedAt.Add(7 * time.Second); !f.starter.deadline.Equal(want) {
			t.Errorf("deadline %v, want %v", f.starter.deadline, want)
		}
	})
	t.Run("a wake past its deadline in the queue is counted, not started", func(t *testing.T) {
		f := newFixture(t, &secrets{}, wake.Policy{Deadline: time.Second})
		w := packet(macOpen, nil)
		w.Origin.ReceivedAt = time.Now().Add(-2 * time.Second)
		if err := f.h.HandleWake(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		if len(f.starter.calls) != 0 || metrictest.Value(f.reg, "wol_wakes_expired_total") != 1 ||
			metrictest.Value(f.reg, "wol_wake_lookups_total") != 0 {
			t.Errorf("starts %v, expired %v", f.starter.calls, metrictest.Value(f.reg, "wol_wakes_expired_total"))
		}
	})
	t.Run("the starter giving up at the deadline is an expired wake, not an error", func(t *testing.T) {
		f := newFixture(t, &secrets{}, wake.Policy{Deadline: time.Minute})
		f.starter.result = vmstarter.Result{Outcome: vmstarter.Failed, Reason: vmstarter.ReasonDeadlineExceeded}
		f.starter.err = context.DeadlineExceeded
		if err := f.h.HandleWake(context.Background(), packet(macOpen, nil)); err != nil {
			t.Fatalf("HandleWake: %v", err)
		}
		if metrictest.Value(f.reg, "wol_wakes_expired_total") != 1 {
			t.Error("not counted as expired")
		}
	})
	t.Run("another failure of the starter is the handler's error", func(t *testing.T) {
		f := newFixture(t, &secrets{}, wake.Policy{Deadline: time.Minute})
		f.starter.result = vmstarter.Result{Outcome: vmstarter.Failed, Reason: vmstarter.ReasonAPIError}
		f.starter.err = errors.New("forbidden")
		if err := f.h.HandleWake(context.Background(), packet(macOpen, nil)); err == nil {
			t.Error("no error")
		}
		if metrictest.Value(f.reg, "wol_wakes_expired_total") != 0 {
			t.Error("counted as expired")
		}
	})
	t.Run("a Secret that cannot be read before the deadline expires the wake", func(t *testing.T) {
		f := newFixture(t, &secrets{failures: 1 << 30}, wake.Policy{Deadline: 50 * time.Millisecond})
		if err := f.h.HandleWake(context.Background(), packet(macLocked, []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff})); err != nil {
			t.Fatalf("HandleWake: %v", err)
		}
		if len(f.starter.calls) != 0 || metrictest.Value(f.reg, "wol_wakes_expired_total") != 1 {
			t.Errorf("starts %v, expired %v", f.starter.calls, metrictest.Value(f.reg, "wol_wakes_expired_total"))
		}
	})
}

func TestPolicyOf(t *testing.T) {
	if p := wake.PolicyOf(wolv1beta1.WolConfigSpec{}); p.Deadline != time.Duration(wolv1beta1.DefaultWakeDeadlineSeconds)*time.Second || p.SecureOnKey != "" {
		t.Errorf("defaults: %+v", p)
	}
	p := wake.PolicyOf(wolv1beta1.WolConfigSpec{WakeDeadlineSeconds: ptr.To[int32](7), SecureOn: &wolv1beta1.SecureOnSpec{PasswordKey: "k"}})
	if p.Deadline != 7*time.Second || p.SecureOnKey != "k" {
		t.Errorf("policy %+v", p)
	}
}
