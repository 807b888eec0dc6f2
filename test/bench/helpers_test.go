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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// startEnv starts kube-apiserver and etcd with the project's and KubeVirt's
// CRDs and, withKubeVirt, real virt-api and virt-controller (so that VMs
// are admitted by KubeVirt's webhooks and started through its subresource
// API); they are stopped when the benchmark ends. It returns the admin
// configuration.
func startEnv(b *testing.B, withKubeVirt bool) *rest.Config {
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
	return cfg
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

// benchVM is a Halted VirtualMachine shaped like a real one
// (vmfixture.Realistic: labels and annotations, CPU, memory, a container
// disk and a cloud-init disk) with one interface with a fixed MAC on the pod
// network — about 1 KiB of JSON as created.
func benchVM(ns, name string, mac wol.MAC, labels map[string]string) *kubevirtv1.VirtualMachine {
	return vmfixture.New(ns, name,
		vmfixture.Labels(map[string]string{"app.kubernetes.io/name": "guest", "app.kubernetes.io/part-of": "bench-fleet"}),
		vmfixture.Labels(labels), vmfixture.MACs(mac.String()), vmfixture.Realistic(2))
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

// benchLogger is the logger given to the code under test: JSON at Info
// level, as in production, written to io.Discard, or to stderr when
// WOLBENCH_LOG is set.
func benchLogger() logr.Logger {
	w := io.Discard
	if os.Getenv("WOLBENCH_LOG") != "" {
		w = os.Stderr
	}
	return zap.New(zap.WriteTo(w))
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
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(value)
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
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	if !waitFor(30*time.Second, 10*time.Millisecond, app.Ready) {
		b.Fatal("listener not ready within 30s")
	}
	return app
}
