//go:build linux

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

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// requireRoot fails (in CI) or skips the benchmark when it cannot build
// network namespaces.
func requireRoot(b *testing.B) {
	b.Helper()
	if p := netlab.Problem(); p != "" {
		if os.Getenv("CI") != "" {
			b.Fatalf("this benchmark %s; CI must run it as root", p)
		}
		b.Skipf("SKIPPED: this benchmark %s", p)
	}
}

// startEnv starts kube-apiserver and etcd with the project's and KubeVirt's
// CRDs and, withKubeVirt, real virt-api and virt-controller (so that VMs
// are admitted by KubeVirt's webhooks and started through its subresource
// API); they are stopped when the benchmark ends.
func startEnv(b *testing.B, withKubeVirt bool) (*envtest.Environment, *rest.Config) {
	b.Helper()
	opts := testenv.Options{}
	var kv *kubevirtcp.ControlPlane
	if withKubeVirt {
		var err error
		if kv, err = kubevirtcp.New(b.TempDir(), kubevirtcp.Options{}); err != nil {
			b.Fatal(err)
		}
		opts.APIServerArgs = kv.APIServerArgs()
	}
	env, cfg, err := testenv.Start(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	if kv != nil {
		if err := kv.Start(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(kv.Stop)
	}
	return env, cfg
}

// fixtureConfig is cfg without client-side rate limiting, for creating the
// fixtures quickly. Never used by the code under test.
func fixtureConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return c
}

type clients struct {
	kv   kubevirt.Interface
	kube kubernetes.Interface
}

func newClients(b *testing.B, cfg *rest.Config) clients {
	b.Helper()
	kv, err := kubevirt.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return clients{kv: kv, kube: kube}
}

func (c clients) namespaces(b *testing.B, ctx context.Context, names ...string) {
	b.Helper()
	for _, n := range names {
		_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchMAC is the MAC of the i-th VM of a fleet; prefix tells fleets apart.
func benchMAC(prefix byte, i int) wol.MAC {
	return wol.MAC{0x52, 0x54, prefix, byte(i >> 16), byte(i >> 8), byte(i)}
}

// benchVM is a Halted VirtualMachine shaped like a real one: labels and
// annotations, a template with CPU, memory, a container disk and a
// cloud-init disk, and one bridged interface with a fixed MAC on the pod
// network (about 1 KiB of JSON as created).
func benchVM(ns, name string, mac wol.MAC, labels map[string]string) *kubevirtv1.VirtualMachine {
	l := map[string]string{"app.kubernetes.io/name": "guest", "app.kubernetes.io/part-of": "bench-fleet"}
	for k, v := range labels {
		l[k] = v
	}
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Labels: l,
			Annotations: map[string]string{
				"description":       "a guest of the benchmark fleet, started by Wake-on-LAN",
				"vm.kubevirt.io/os": "fedora",
			},
		},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: ptr.To(kubevirtv1.RunStrategyHalted),
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubevirt.io/domain": name}},
			},
		},
	}
	spec := &vm.Spec.Template.Spec
	spec.Domain.CPU = &kubevirtv1.CPU{Cores: 2}
	// An instance of it stays in phase Scheduling (envtest has no
	// scheduler), so it never competes for anything.
	spec.Domain.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
	spec.Domain.Devices.Disks = []kubevirtv1.Disk{
		{Name: "root", DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
		{Name: "cloudinit", DiskDevice: kubevirtv1.DiskDevice{Disk: &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBusVirtio}}},
	}
	spec.Domain.Devices.Interfaces = []kubevirtv1.Interface{{
		Name: "default", MacAddress: mac.String(),
		InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Bridge: &kubevirtv1.InterfaceBridge{}},
	}}
	spec.Networks = []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}}
	spec.Volumes = []kubevirtv1.Volume{
		{Name: "root", VolumeSource: kubevirtv1.VolumeSource{ContainerDisk: &kubevirtv1.ContainerDiskSource{Image: "quay.io/containerdisks/fedora:41"}}},
		{Name: "cloudinit", VolumeSource: kubevirtv1.VolumeSource{CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{
			UserData: "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchmarkKeyForTheFleet bench@example\n",
		}}},
	}
	spec.TerminationGracePeriodSeconds = ptr.To[int64](180)
	return vm
}

// createVMs creates vms with many concurrent requests and fails on the
// first error.
func createVMs(b *testing.B, ctx context.Context, kv kubevirt.Interface, vms []*kubevirtv1.VirtualMachine) {
	b.Helper()
	start := time.Now()
	work := make(chan *kubevirtv1.VirtualMachine)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for vm := range work {
				if _, err := kv.KubevirtV1().VirtualMachines(vm.Namespace).Create(ctx, vm, metav1.CreateOptions{}); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("creating VM %s/%s: %w", vm.Namespace, vm.Name, err) })
				}
			}
		})
	}
	for _, vm := range vms {
		work <- vm
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.Logf("created %d VMs in %s", len(vms), time.Since(start).Round(time.Millisecond))
}

// apiCall is one request seen by an apiRecorder.
type apiCall struct {
	Method, Path string
	Watch        bool
	Status       int // 0 when the request failed without a response
	Start, End   time.Time
}

// apiRecorder wraps a client's HTTP transport and records its requests
// while on; hook, if set, sees every request as it completes.
type apiRecorder struct {
	mu    sync.Mutex
	on    bool
	calls []apiCall
	hook  func(apiCall)
}

func (r *apiRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		c := apiCall{Method: req.Method, Path: req.URL.Path, Start: time.Now()}
		if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
			c.Watch = true
		}
		resp, err := rt.RoundTrip(req)
		c.End = time.Now()
		if err == nil {
			c.Status = resp.StatusCode
		}
		r.mu.Lock()
		if r.on {
			r.calls = append(r.calls, c)
		}
		hook := r.hook
		r.mu.Unlock()
		if hook != nil {
			hook(c)
		}
		return resp, err
	})
}

// record starts (true) or stops recording.
func (r *apiRecorder) record(on bool) {
	r.mu.Lock()
	r.on = on
	r.mu.Unlock()
}

// take returns the recorded calls and forgets them.
func (r *apiRecorder) take() []apiCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// describeCalls summarises calls on one line as "VERB resource: n" (object
// names left out), for logs.
func describeCalls(calls []apiCall) string {
	counts := map[string]int{}
	for _, c := range calls {
		counts[c.Method+" "+resourceOf(c.Path)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// resourceOf reduces an API path to its resource (and subresource), e.g.
// /apis/kubevirt.io/v1/namespaces/a/virtualmachines/b/status ->
// virtualmachines/status.
func resourceOf(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) > 0 && seg[0] == "api":
		seg = seg[min(2, len(seg)):]
	case len(seg) > 0 && seg[0] == "apis":
		seg = seg[min(3, len(seg)):]
	}
	if len(seg) >= 2 && seg[0] == "namespaces" && len(seg) > 2 {
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

// benchLogger is the logger given to the code under test: JSON at Info
// level, as in production, written to io.Discard, or to stderr when
// WOLBENCH_LOG is set.
func benchLogger() logr.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("WOLBENCH_LOG") != "" {
		w = os.Stderr
	}
	return zap.New(zap.WriteTo(w))
}

// metricSum adds up the samples of the counter or gauge family name in
// reg whose labels include want.
func metricSum(b *testing.B, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	b.Helper()
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted, by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// procStatusKiB reads a "Name: N kB" field of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (float64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseFloat(f[0], 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// waitFor polls cond every interval until it holds or timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// runStrategyOf reads a VM's run strategy ("" if it cannot be read).
func runStrategyOf(ctx context.Context, kv kubevirt.Interface, ns, name string) kubevirtv1.VirtualMachineRunStrategy {
	vm, err := kv.KubevirtV1().VirtualMachines(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || vm.Spec.RunStrategy == nil {
		return ""
	}
	return *vm.Spec.RunStrategy
}

// crClient is a controller-runtime client for cfg that knows the core,
// KubeVirt and WolConfig types.
func crClient(b *testing.B, cfg *rest.Config) client.Client {
	b.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kubevirtv1.AddToScheme, wolv1beta1.AddToScheme} {
		if err := add(scheme); err != nil {
			b.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// createWolConfig creates wc as the admin.
func createWolConfig(b *testing.B, ctx context.Context, cfg *rest.Config, wc *wolv1beta1.WolConfig) {
	b.Helper()
	if err := crClient(b, cfg).Create(ctx, wc); err != nil {
		b.Fatal(err)
	}
}

// cfgWithRecorder is a copy of cfg whose requests rec records.
func cfgWithRecorder(cfg *rest.Config, rec *apiRecorder) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(rec.wrap)
	return c
}

// nodeNetNS builds a private network namespace standing for a node's host
// network (removed when the benchmark ends) and returns its path.
func nodeNetNS(b *testing.B) string {
	b.Helper()
	lan, err := netlab.New("node")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lan.Close)
	return lan.Host("node").Path()
}

// runApp runs the listener process's code, listenerapp.App, in this process
// with opts (node "bench", no metrics endpoint, benchLogger) until the
// benchmark ends, and returns it once it is ready.
func runApp(b *testing.B, opts listenerapp.Options) *listenerapp.App {
	b.Helper()
	opts.NodeName, opts.MetricsAddr, opts.Log = "bench", "0", benchLogger()
	app, err := listenerapp.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if !waitFor(30*time.Second, 10*time.Millisecond, app.Ready) {
		b.Fatal("listener not ready within 30s")
	}
	return app
}
