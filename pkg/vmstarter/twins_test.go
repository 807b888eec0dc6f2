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

package vmstarter_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

// The oracle of the starter is KubeVirt itself. Each row of the table below
// prepares two identical VirtualMachines ("twins") in the same state, with
// real virt-controller (and, for what only a node would report, the test
// acting as virt-handler), then wakes one with the starter and sends the
// other what `virtctl start` sends — PUT …/virtualmachines/NAME/start
// through kube-apiserver to real virt-api — at the same moment, and compares
// what each did: the answer, the run strategy afterwards and the instance
// virt-controller keeps, creates or removes. Where the starter deliberately
// does something else, the row says why. docs/starting-vms.md shows the
// same table (TestStartingVMsDocMatchesTable keeps it so).

var testOrigin = vmstarter.Origin{Protocol: "udp4", Port: 9, Source: netip.MustParseAddrPort("192.0.2.7:40000"), Interface: "eth0"}

// Instance states a row starts from.
const (
	stNone       = "none"
	stScheduling = "Scheduling"
	stScheduled  = "Scheduled"
	stRunning    = "Running"
	stPaused     = "Paused"
	stSucceeded  = "Succeeded"
	stFailed     = "Failed"
	stStopping   = "stopping"
)

// instanceStates are the columns of the table, in order.
var instanceStates = []string{stNone, stScheduling, stScheduled, stRunning, stPaused, stSucceeded, stFailed, stStopping}

// strategy is how a VirtualMachine selects its run strategy.
type strategy struct {
	name    string
	rs      kubevirtv1.VirtualMachineRunStrategy // "" with running set
	running *bool
}

func (s strategy) option() vmfixture.Option {
	if s.running != nil {
		return vmfixture.Running(*s.running)
	}
	return vmfixture.RunStrategy(s.rs)
}

// switchPatch is the merge patch that gives a VirtualMachine this strategy.
func (s strategy) switchPatch() []byte {
	spec := map[string]any{"runStrategy": nil, "running": nil}
	if s.running != nil {
		spec["running"] = *s.running
	} else {
		spec["runStrategy"] = s.rs
	}
	data, err := json.Marshal(map[string]any{"spec": spec})
	Expect(err).NotTo(HaveOccurred())
	return data
}

func (s strategy) halted() bool {
	return s.rs == kubevirtv1.RunStrategyHalted || (s.running != nil && !*s.running)
}

var (
	sHalted         = strategy{name: "Halted", rs: kubevirtv1.RunStrategyHalted}
	sRunningFalse   = strategy{name: "running: false", running: new(bool)}
	sManual         = strategy{name: "Manual", rs: kubevirtv1.RunStrategyManual}
	sRerunOnFailure = strategy{name: "RerunOnFailure", rs: kubevirtv1.RunStrategyRerunOnFailure}
	sAlways         = strategy{name: "Always", rs: kubevirtv1.RunStrategyAlways}
	sOnce           = strategy{name: "Once", rs: kubevirtv1.RunStrategyOnce}
	sWaitAsReceiver = strategy{name: "WaitAsReceiver", rs: kubevirtv1.RunStrategyWaitAsReceiver}
	strategies      = []strategy{sHalted, sRunningFalse, sManual, sRerunOnFailure, sAlways, sOnce, sWaitAsReceiver}
)

// effect is what a wake left behind, once KubeVirt settled: the run
// strategy, and the instance — "kept" (the same one), "new" (one
// virt-controller created since) or "none".
type effect struct {
	strategy string
	instance string
}

// ours is what the starter answers.
type ours struct {
	outcome vmstarter.Outcome
	reason  vmstarter.Reason
	message string // a part of the message (Failed: the server's words)
}

// answer is what virt-api answers `virtctl start`.
type answer struct {
	code    int
	message string // a part of the message
}

// row is one cell of the run strategy × instance state table.
type row struct {
	strategy strategy
	state    string
	// reached is the state KubeVirt settles in, when it does not keep the
	// one the row prepares (it acts on it by itself); "" when it keeps it.
	reached  string
	ours     ours
	oursDoes effect
	virtctl  answer
	kvDoes   effect
	// why explains a deliberate difference from `virtctl start`.
	why string
}

// unreachable are the cells KubeVirt never keeps a VirtualMachine in.
var unreachable = map[[2]string]string{
	{"Halted", stScheduling}:   "a Halted VM keeps no instance: KubeVirt stops it (see stopping)",
	{"Halted", stScheduled}:    "a Halted VM keeps no instance: KubeVirt stops it (see stopping)",
	{"Halted", stRunning}:      "a Halted VM keeps no instance: KubeVirt stops it (see stopping)",
	{"Halted", stPaused}:       "a Halted VM keeps no instance: KubeVirt stops it (see stopping)",
	{"Halted", stSucceeded}:    "a Halted VM keeps no instance: KubeVirt removes it (see none)",
	{"Halted", stFailed}:       "a Halted VM keeps no instance: KubeVirt removes it (see none)",
	{"RerunOnFailure", stNone}: "KubeVirt starts a new RerunOnFailure VM at once; after a successful run see Succeeded",
	{"Always", stNone}:         "KubeVirt starts an Always VM at once (see Succeeded and Failed for one waiting to be restarted)",
	{"Once", stNone}:           "KubeVirt starts a new Once VM at once",
}

func init() {
	// running: false is Halted.
	for k, v := range unreachable {
		if k[0] == "Halted" {
			unreachable[[2]string{"running: false", k[1]}] = v
		}
	}
}

const (
	alreadyRunning   = "VM is already running"
	noManualStart    = "does not support manual start requests"
	whyWaitForStop   = "we wait for the stop to finish (within the wake deadline), then start; virt-api refuses while the instance exists, and the wake would be lost"
	whyUnpause       = "a wake unpauses a paused VM, as `virtctl unpause` does; virt-api hands unpause to the node's virt-handler, which does not run here, so the real answer here is 400 — on a cluster the VM resumes"
	noVirtHandler    = "No virt-handler on node"
	whyNoManualStart = "same effect; virt-api's answer says KubeVirt does not take manual starts for this strategy, ours says KubeVirt starts it by itself"
)

var (
	started    = ours{outcome: vmstarter.Started}
	starting   = ours{outcome: vmstarter.AlreadyStarting}
	running    = ours{outcome: vmstarter.AlreadyRunning}
	unpauseErr = ours{outcome: vmstarter.Failed, reason: vmstarter.ReasonAPIError, message: noVirtHandler}
	accepted   = answer{code: http.StatusAccepted}
	isRunning  = answer{code: http.StatusConflict, message: alreadyRunning}
)

func does(s, instance string) effect { return effect{strategy: s, instance: instance} }

// rows is the table, every reachable cell.
var rows = func() []row {
	halted := []strategy{sHalted, sRunningFalse}
	others := []strategy{sManual, sRerunOnFailure, sAlways, sOnce, sWaitAsReceiver}
	// Two rows for each halted strategy, four for each other one, then the
	// rows of single strategies.
	out := make([]row, 0, 2*len(halted)+4*len(others))
	for _, s := range halted {
		startedAs := "Always"
		if s.running != nil {
			startedAs = "running: true"
		}
		out = append(out,
			row{strategy: s, state: stNone, ours: started, oursDoes: does(startedAs, "new"), virtctl: accepted, kvDoes: does(startedAs, "new")},
			row{strategy: s, state: stStopping, ours: started, oursDoes: does(startedAs, "new"), virtctl: isRunning, kvDoes: does(s.name, "none"), why: whyWaitForStop},
		)
	}
	for _, s := range others {
		n := s.name
		out = append(out,
			row{strategy: s, state: stScheduling, ours: starting, oursDoes: does(n, "kept"), virtctl: isRunning, kvDoes: does(n, "kept")},
			row{strategy: s, state: stScheduled, ours: starting, oursDoes: does(n, "kept"), virtctl: isRunning, kvDoes: does(n, "kept")},
			row{strategy: s, state: stRunning, ours: running, oursDoes: does(n, "kept"), virtctl: isRunning, kvDoes: does(n, "kept")},
			row{strategy: s, state: stPaused, ours: unpauseErr, oursDoes: does(n, "kept"), virtctl: isRunning, kvDoes: does(n, "kept"), why: whyUnpause},
		)
	}
	out = append(out,
		row{strategy: sManual, state: stNone, ours: started, oursDoes: does("Manual", "new"), virtctl: accepted, kvDoes: does("Manual", "new")},
		row{strategy: sManual, state: stSucceeded, ours: started, oursDoes: does("Manual", "new"), virtctl: accepted, kvDoes: does("Manual", "new")},
		row{strategy: sManual, state: stFailed, ours: started, oursDoes: does("Manual", "new"), virtctl: accepted, kvDoes: does("Manual", "new")},
		row{strategy: sManual, state: stStopping, ours: started, oursDoes: does("Manual", "new"), virtctl: isRunning, kvDoes: does("Manual", "none"), why: whyWaitForStop},

		row{strategy: sRerunOnFailure, state: stSucceeded, reached: stNone, ours: started, oursDoes: does("RerunOnFailure", "new"),
			virtctl: accepted, kvDoes: does("RerunOnFailure", "new")},
		row{strategy: sRerunOnFailure, state: stFailed, reached: stNone, ours: starting, oursDoes: does("RerunOnFailure", "none"),
			virtctl: answer{code: http.StatusInternalServerError, message: "stop/start already underway"}, kvDoes: does("RerunOnFailure", "none"),
			why: "same effect: virt-controller restarts a failed RerunOnFailure VM itself, after its start-failure backoff; virt-api's 500 says a start is already under way, ours says the VM is starting"},
		row{strategy: sRerunOnFailure, state: stStopping, ours: started, oursDoes: does("RerunOnFailure", "new"), virtctl: isRunning, kvDoes: does("RerunOnFailure", "none"), why: whyWaitForStop},

		row{strategy: sAlways, state: stSucceeded, reached: stNone, ours: starting, oursDoes: does("Always", "none"),
			virtctl: answer{code: http.StatusConflict, message: noManualStart}, kvDoes: does("Always", "none"), why: whyNoManualStart + " (after its start-failure backoff)"},
		row{strategy: sAlways, state: stFailed, reached: stNone, ours: starting, oursDoes: does("Always", "none"),
			virtctl: answer{code: http.StatusConflict, message: noManualStart}, kvDoes: does("Always", "none"), why: whyNoManualStart + " (after its start-failure backoff)"},
		row{strategy: sAlways, state: stStopping, ours: starting, oursDoes: does("Always", "new"), virtctl: isRunning, kvDoes: does("Always", "new"),
			why: "same effect: virt-controller restarts an Always VM once its instance is gone; we wait for that instead of answering at once"},

		row{strategy: sOnce, state: stSucceeded, ours: ours{outcome: vmstarter.Refused, reason: vmstarter.ReasonOnceCompleted}, oursDoes: does("Once", "kept"),
			virtctl: answer{code: http.StatusConflict, message: noManualStart}, kvDoes: does("Once", "kept")},
		row{strategy: sOnce, state: stFailed, ours: ours{outcome: vmstarter.Refused, reason: vmstarter.ReasonOnceCompleted}, oursDoes: does("Once", "kept"),
			virtctl: answer{code: http.StatusConflict, message: noManualStart}, kvDoes: does("Once", "kept")},
		row{strategy: sOnce, state: stStopping, ours: starting, oursDoes: does("Once", "new"), virtctl: isRunning, kvDoes: does("Once", "new"),
			why: "same effect: virt-controller starts a Once VM again once its instance is gone; we wait for that instead of answering at once"},

		row{strategy: sWaitAsReceiver, state: stNone, reached: "WaitingForSync", ours: starting, oursDoes: does("WaitAsReceiver", "kept"),
			virtctl: isRunning, kvDoes: does("WaitAsReceiver", "kept")},
		row{strategy: sWaitAsReceiver, state: stSucceeded, ours: ours{outcome: vmstarter.Refused, reason: vmstarter.ReasonWaitAsReceiver}, oursDoes: does("WaitAsReceiver", "kept"),
			virtctl: accepted, kvDoes: does("WaitAsReceiver", "kept"), why: "same effect: virt-api accepts and does nothing; we say why nothing happens"},
		row{strategy: sWaitAsReceiver, state: stFailed, ours: ours{outcome: vmstarter.Refused, reason: vmstarter.ReasonWaitAsReceiver}, oursDoes: does("WaitAsReceiver", "kept"),
			virtctl: accepted, kvDoes: does("WaitAsReceiver", "kept"), why: "same effect: virt-api accepts and does nothing; we say why nothing happens"},
		row{strategy: sWaitAsReceiver, state: stStopping, ours: starting, oursDoes: does("WaitAsReceiver", "new"), virtctl: isRunning, kvDoes: does("WaitAsReceiver", "new"),
			why: "same effect: virt-controller creates the receiving instance again once the old one is gone; we wait for that instead of answering at once"},
	)
	return out
}()

// holdFinalizer keeps a launcher pod (and so its instance) around while it
// is deleted: the guest is still shutting down, as within a long
// terminationGracePeriodSeconds on a real node.
const holdFinalizer = "test.kubevirt-wol.io/guest-shutting-down"

// twins prepares two identical VirtualMachines for r and returns their
// names once both are in the row's state.
func twins(ctx context.Context, r row) [2]string {
	GinkgoHelper()
	base := uniqueName(strings.NewReplacer(": ", "-", " ", "-").Replace(r.strategy.name) + "-" + strings.ToLower(r.state))
	names := [2]string{base + "-wol", base + "-virtctl"}
	first := sManual
	if r.state == stNone {
		first = r.strategy
	}
	for _, n := range names {
		opts := []vmfixture.Option{first.option(), vmfixture.MACs("52:54:00:00:00:01")}
		if r.state == stScheduling {
			opts = append(opts, vmfixture.NodeSelector(map[string]string{"kubernetes.io/hostname": "nowhere"}))
		}
		createVM(ctx, vmfixture.New(vmNamespace, n, opts...))
	}
	if r.state != stNone {
		for _, n := range names {
			Expect(adminKV.KubevirtV1().VirtualMachines(vmNamespace).Start(ctx, n, &kubevirtv1.StartOptions{})).To(Succeed())
		}
		want := stScheduled
		if r.state == stScheduling {
			want = stScheduling
		}
		for _, n := range names {
			Eventually(func() string { return observe(ctx, n) }).WithTimeout(30*time.Second).Should(Equal(want), "twin %s", n)
		}
		for _, n := range names {
			playHandler(ctx, n, r.state)
		}
		for _, n := range names {
			if first.name != r.strategy.name {
				_, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Patch(ctx, n, types.MergePatchType, r.strategy.switchPatch(), metav1.PatchOptions{})
				Expect(err).NotTo(HaveOccurred())
			}
			if r.state == stStopping && !r.strategy.halted() {
				// The instance is deleted while its guest shuts down.
				Expect(adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Delete(ctx, n, metav1.DeleteOptions{})).To(Succeed())
			}
		}
	}
	want := r.observed()
	for _, n := range names {
		Eventually(func() string { return observe(ctx, n) }).WithTimeout(30*time.Second).Should(Equal(want), "twin %s", n)
	}
	Consistently(func() string { return observe(ctx, names[0]) + " | " + observe(ctx, names[1]) }, 300*time.Millisecond, 50*time.Millisecond).
		Should(Equal(want+" | "+want), "both twins stay in state %s", want)
	return names
}

// observed is the instance state the row's twins must be in before the
// wake (see observe).
func (r row) observed() string {
	switch {
	case r.reached != "":
		return r.reached
	case r.state == stPaused:
		return "Running, paused"
	case r.state == stStopping:
		return "Running, deleting"
	}
	return r.state
}

// playHandler does to the instance of VM name what virt-handler would on its
// node to bring it into state: report it Running (and Paused), or finished;
// for stopping, the guest keeps running while the pod is deleted.
func playHandler(ctx context.Context, name, state string) {
	GinkgoHelper()
	status := func(s string) {
		_, err := handlerKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Patch(ctx, name, types.MergePatchType,
			[]byte(`{"status":`+s+`}`), metav1.PatchOptions{})
		Expect(err).NotTo(HaveOccurred())
	}
	switch state {
	case stRunning, stStopping:
		status(`{"phase":"Running"}`)
	case stPaused:
		status(`{"phase":"Running","conditions":[{"type":"Paused","status":"True","reason":"PausedByUser"}]}`)
	case stSucceeded, stFailed:
		status(`{"phase":"Running"}`)
		status(`{"phase":"` + state + `"}`)
	}
	if state == stStopping {
		for _, p := range launcherPods(ctx, name) {
			_, err := adminCS.CoreV1().Pods(vmNamespace).Patch(ctx, p.Name, types.MergePatchType,
				[]byte(`{"metadata":{"finalizers":["`+holdFinalizer+`"]}}`), metav1.PatchOptions{})
			Expect(err).NotTo(HaveOccurred())
		}
	}
}

// launcherPods returns the virt-launcher pods of VM vm's instances (owned
// by the instance, which has the VM's name).
func launcherPods(ctx context.Context, vm string) []corev1.Pod {
	GinkgoHelper()
	pods, err := adminCS.CoreV1().Pods(vmNamespace).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	var out []corev1.Pod
	for _, p := range pods.Items {
		for _, o := range p.OwnerReferences {
			if o.Kind == "VirtualMachineInstance" && o.Name == vm {
				out = append(out, p)
			}
		}
	}
	return out
}

// releasePods lets the held launcher pods of VM vm go: the guest is down.
func releasePods(ctx context.Context, vm string) {
	GinkgoHelper()
	for _, p := range launcherPods(ctx, vm) {
		if len(p.Finalizers) == 0 {
			continue
		}
		_, err := adminCS.CoreV1().Pods(vmNamespace).Patch(ctx, p.Name, types.MergePatchType,
			[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		Expect(client404(err)).To(Succeed())
	}
}

// observe describes the instance of VM name: "none", its phase, with
// ", paused" and ", deleting" when they apply.
func observe(ctx context.Context, name string) string {
	vmi, err := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return stNone
	}
	Expect(err).NotTo(HaveOccurred())
	s := string(vmi.Status.Phase)
	for _, c := range vmi.Status.Conditions {
		if c.Type == kubevirtv1.VirtualMachineInstancePaused && c.Status == corev1.ConditionTrue {
			s += ", paused"
		}
	}
	if vmi.DeletionTimestamp != nil {
		s += ", deleting"
	}
	return s
}

// snapshot is what a twin looked like before the wake.
type snapshot struct {
	vm     *kubevirtv1.VirtualMachine
	vmiUID types.UID
}

func take(ctx context.Context, name string) snapshot {
	GinkgoHelper()
	vm, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	s := snapshot{vm: vm}
	if vmi, err := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
		s.vmiUID = vmi.UID
	}
	return s
}

// effectOf is what VM name shows now, relative to before.
func effectOf(ctx context.Context, name string, before snapshot) effect {
	vm, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	e := effect{strategy: strategyName(vm)}
	vmi, err := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		e.instance = "none"
	case err != nil:
		Expect(err).NotTo(HaveOccurred())
	case vmi.UID == before.vmiUID:
		e.instance = "kept"
	default:
		e.instance = "new"
	}
	return e
}

func strategyName(vm *kubevirtv1.VirtualMachine) string {
	if vm.Spec.Running != nil {
		if *vm.Spec.Running {
			return "running: true"
		}
		return "running: false"
	}
	if vm.Spec.RunStrategy == nil {
		return ""
	}
	return string(*vm.Spec.RunStrategy)
}

// untouched checks that a wake changed nothing of the VM but what a start
// changes: the run strategy (or running) and the status.
func untouched(ctx context.Context, name string, before snapshot) {
	GinkgoHelper()
	vm, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	strip := func(spec kubevirtv1.VirtualMachineSpec) kubevirtv1.VirtualMachineSpec {
		spec.RunStrategy, spec.Running = nil, nil
		return spec
	}
	Expect(strip(vm.Spec)).To(Equal(strip(before.vm.Spec)), "the VM's spec, but for its run strategy, is unchanged")
	Expect(vm.Labels).To(Equal(before.vm.Labels))
	Expect(vm.Annotations).To(Equal(before.vm.Annotations))
}

// wake runs the starter on twin 0 and `virtctl start` on twin 1 at the same
// moment. For a stopping row, the guests finish shutting down a while after
// the wake, and the starter must still be waiting then.
func wakeBoth(ctx context.Context, r row, starter *vmstarter.Starter, names [2]string) (vmstarter.Result, error, error) {
	GinkgoHelper()
	var (
		res     vmstarter.Result
		err     error
		kvErr   error
		wg      sync.WaitGroup
		oursEnd = make(chan struct{})
	)
	dctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	wg.Go(func() {
		defer GinkgoRecover()
		defer close(oursEnd)
		res, err = starter.Start(dctx, types.NamespacedName{Namespace: vmNamespace, Name: names[0]}, testOrigin)
	})
	wg.Go(func() {
		kvErr = adminKV.KubevirtV1().VirtualMachines(vmNamespace).Start(ctx, names[1], &kubevirtv1.StartOptions{})
	})
	if r.state == stStopping {
		Consistently(oursEnd, time.Second, 50*time.Millisecond).ShouldNot(BeClosed(), "the wake waits while the VM stops")
		for _, n := range names {
			releasePods(ctx, n)
		}
	}
	wg.Wait()
	return res, err, kvErr
}

func codeOf(err error) int {
	if err == nil {
		return http.StatusAccepted
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return int(status.Status().Code)
	}
	return -1
}

// runRow runs one row through the start path of api, acting as cfg.
func runRow(ctx context.Context, r row, api vmstarter.APIMode) {
	names := twins(ctx, r)
	before := [2]snapshot{take(ctx, names[0]), take(ctx, names[1])}
	reg := prometheus.NewRegistry()
	cfg := listenerCfg
	if api == vmstarter.APIDirect {
		cfg = directCfg
	}
	res, err, kvErr := wakeBoth(ctx, r, newStarter(cfg, api, reg), names)

	By("the starter's answer")
	Expect(res.Outcome).To(Equal(r.ours.outcome), "outcome (%s; %v)", res.Message, err)
	Expect(res.Reason).To(Equal(r.ours.reason))
	Expect(res.Message).To(ContainSubstring(r.ours.message))
	Expect(err != nil).To(Equal(r.ours.outcome == vmstarter.Failed), "error %v", err)
	Expect(metrictest.Value(reg, "wol_vm_start_outcomes_total", "outcome", r.ours.outcome.String())).To(Equal(1.0))
	wantPath := vmstarter.PathSubresource
	if api == vmstarter.APIDirect {
		wantPath = vmstarter.PathDirect
	}
	if r.ours.outcome == vmstarter.Started {
		Expect(res.Path).To(Equal(wantPath))
		Expect(metrictest.Value(reg, "wol_vm_started_total", "path", wantPath.String())).To(Equal(1.0))
	} else {
		Expect(metrictest.Value(reg, "wol_vm_started_total", "path", wantPath.String())).To(BeZero())
	}
	if event := map[vmstarter.Outcome]string{vmstarter.Started: vmstarter.EventReasonWoken, vmstarter.Refused: vmstarter.EventReasonRefused,
		vmstarter.Failed: vmstarter.EventReasonFailed}[r.ours.outcome]; event != "" {
		Eventually(func() []string { return eventReasons(ctx, names[0]) }).Should(ContainElement(event))
	}

	By("virt-api's answer to `virtctl start`")
	Expect(codeOf(kvErr)).To(Equal(r.virtctl.code), "virtctl start: %v", kvErr)
	if r.virtctl.message != "" {
		Expect(kvErr).To(MatchError(ContainSubstring(r.virtctl.message)))
	}

	By("what each wake left behind, once KubeVirt settled")
	for i, want := range []effect{r.oursDoes, r.kvDoes} {
		n := names[i]
		Eventually(func() effect { return effectOf(ctx, n, before[i]) }).WithTimeout(20*time.Second).Should(Equal(want), "twin %s", n)
		Consistently(func() effect { return effectOf(ctx, n, before[i]) }, 700*time.Millisecond, 100*time.Millisecond).Should(Equal(want), "twin %s", n)
		untouched(ctx, n, before[i])
	}
	if r.why == "" {
		Expect(r.oursDoes).To(Equal(r.kvDoes), "a row without a stated difference does what `virtctl start` does")
	}
}

func rowEntries(filter func(row) bool) []TableEntry {
	var out []TableEntry
	for _, r := range rows {
		if filter(r) {
			out = append(out, Entry(r.strategy.name+" × "+r.state, r))
		}
	}
	return out
}

var _ = Describe("Start, compared with `virtctl start` on a twin", func() {
	DescribeTable("through the start subresource (the default)",
		func(ctx SpecContext, r row) { runRow(ctx, r, vmstarter.APISubresource) },
		rowEntries(func(row) bool { return true }))

	// The direct path writes only where the decision is to start; every
	// other row decides the same way whatever the path (Decide is shared).
	DescribeTable("by patching the VirtualMachine (the direct path, as with spec.directPatchFallback)",
		func(ctx SpecContext, r row) { runRow(ctx, r, vmstarter.APIDirect) },
		rowEntries(func(r row) bool { return r.ours.outcome == vmstarter.Started }))
})
