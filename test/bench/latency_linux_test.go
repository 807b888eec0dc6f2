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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"golang.org/x/sys/unix"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const (
	latencyWakes  = 400
	latencyWarmup = 20
	// latencyCycle paces the wakes: each costs the listener three requests
	// (two reads and the start), and its client allows 50 per second (burst
	// 100); virt-controller then creates an instance and its launcher pod
	// for each started VM. One wake every 100 ms never waits for the
	// client's rate limiter, and the previous wake's event and instance are
	// out before the next one.
	latencyCycle = 100 * time.Millisecond
	latencyPort  = 9
)

// BenchmarkWakeLatency is figure 3 of `make bench`: the time from a magic
// packet's arrival at the listener's socket to the start being accepted by
// real virt-api (202 to PUT …/virtualmachines/NAME/start, through
// kube-apiserver), over latencyWakes wakes of distinct Halted VMs sent one
// at a time — against the time a bare `virtctl start` (the same PUT, from a
// client of the same configuration) takes; and the time from the packet to
// the VirtualMachineInstance that real virt-controller creates for it.
//
// The listener is listenerapp.App (the whole listener process's code) in
// this process, against envtest with real virt-api and virt-controller
// (kubevirtcp), with its production client settings; its requests are
// timed by a wrapping transport. Arrival is when the benchmark's sendto
// returns (on loopback the datagram is in the socket's queue by then; the
// listener stamps Origin.ReceivedAt a few microseconds later, when its read
// loop takes it); accepted is when the response to the listener's PUT of
// that VM's start subresource arrives with status 202. The baseline PUTs
// the start of another set of Halted VMs, timed from the call to the
// response, interleaved with the wakes (alternating which goes first) so
// that both see the same machine. Instance creation is when a watch on
// VirtualMachineInstances delivers the instance's ADDED event.
//
// Reported: p50-ns, p99-ns (wake), bare-p50-ns, bare-p99-ns (baseline),
// vmi-p50-ns, vmi-p99-ns (packet to instance), api-calls/wake (requests the
// listener made per wake, events included).
func BenchmarkWakeLatency(b *testing.B) {
	netlab.Require(b, "this benchmark")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := startEnv(b, true)
	c := newClients(b, fixtureConfig(cfg))
	nsPath := nodeNetNS(b)

	n := latencyWakes + latencyWarmup
	c.namespaces(b, ctx, "lat-wake", "lat-bare")
	vms := make([]*kubevirtv1.VirtualMachine, 0, n)
	bareVMs := make([]*kubevirtv1.VirtualMachine, 0, n)
	for i := range n {
		vms = append(vms, benchVM("lat-wake", fmt.Sprintf("wake-%04d", i), benchMAC(0xa1, i), nil))
		bareVMs = append(bareVMs, benchVM("lat-bare", fmt.Sprintf("bare-%04d", i), benchMAC(0xa2, i), nil))
	}
	createVMs(b, ctx, c.kv, append(slices.Clone(vms), bareVMs...))
	createWolConfig(b, ctx, cfg, &wolv1beta1.WolConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "lat"},
		Spec: wolv1beta1.WolConfigSpec{
			DiscoveryMode:      wolv1beta1.DiscoveryModeAll,
			NamespaceSelectors: []string{"lat-wake"},
			WolPorts:           []int32{latencyPort},
		},
	})

	// accepted[name] receives the time the listener's PUT of VM name's start
	// subresource was answered with 2xx.
	var mu sync.Mutex
	accepted := map[string]chan time.Time{}
	expect := func(name string) chan time.Time {
		ch := make(chan time.Time, 1)
		mu.Lock()
		accepted[name] = ch
		mu.Unlock()
		return ch
	}
	patchedVM := func(call apirecorder.Call, ns string) string {
		prefix := "/apis/subresources.kubevirt.io/v1/namespaces/" + ns + "/virtualmachines/"
		if call.Method != "PUT" || call.Status/100 != 2 || !strings.HasPrefix(call.Path, prefix) || !strings.HasSuffix(call.Path, "/start") {
			return ""
		}
		return strings.TrimSuffix(strings.TrimPrefix(call.Path, prefix), "/start")
	}
	rec := apirecorder.New()
	rec.Record(false)
	rec.Hook = func(call apirecorder.Call) {
		if name := patchedVM(call, "lat-wake"); name != "" {
			mu.Lock()
			ch := accepted[name]
			mu.Unlock()
			if ch != nil {
				ch <- call.End
			}
		}
	}
	app := runApp(b, listenerapp.Options{WolConfig: "lat", RestConfig: rec.Config(cfg), NetNS: nsPath})
	if got := metrictest.Value(app.Registry(), "wol_managed_vms"); got != float64(n) {
		b.Fatalf("the listener's index holds %v VMs, want %d", got, n)
	}

	// The baseline's client: the configuration the listener gives its own
	// (listenerapp.New: 50 requests per second, burst 100).
	var bareEnd time.Time
	bareRec := apirecorder.New()
	bareRec.Hook = func(call apirecorder.Call) {
		if patchedVM(call, "lat-bare") != "" {
			bareEnd = call.End
		}
	}
	bareCfg := bareRec.Config(cfg)
	bareCfg.QPS, bareCfg.Burst = 50, 100
	bareKV, err := kubevirt.NewForConfig(bareCfg)
	if err != nil {
		b.Fatal(err)
	}

	// 64 senders, 127.0.0.10-73, so that no source reaches the listener's
	// per-source rate limit.
	socks := make([]int, 64)
	if err := netns.Run(nsPath, func() error {
		for i := range socks {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			socks[i] = fd
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(10 + i)}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, fd := range socks {
			_ = unix.Close(fd)
		}
	}()
	dst := &unix.SockaddrInet4{Port: latencyPort, Addr: [4]byte{127, 0, 0, 1}}

	sentAt := make([]time.Time, n)
	wake := func(i int) time.Duration {
		ch := expect(vms[i].Name)
		packet := wol.AppendMagic(nil, benchMAC(0xa1, i), nil)
		start := time.Now()
		sentAt[i] = start
		if err := unix.Sendto(socks[i%len(socks)], packet, 0, dst); err != nil {
			b.Fatal(err)
		}
		select {
		case end := <-ch:
			return end.Sub(start)
		case <-time.After(10 * time.Second):
			b.Fatalf("wake %d (%s): no accepted start within 10s", i, vms[i].Name)
			return 0
		}
	}
	bare := func(i int) time.Duration {
		start := time.Now()
		if err := bareKV.KubevirtV1().VirtualMachines("lat-bare").Start(ctx, bareVMs[i].Name, &kubevirtv1.StartOptions{}); err != nil {
			b.Fatalf("bare start %d: %v", i, err)
		}
		return bareEnd.Sub(start)
	}

	// created[name] is when the watch delivered the instance of VM name.
	created := map[string]time.Time{}
	var createdMu sync.Mutex
	w, err := c.kv.KubevirtV1().VirtualMachineInstances("lat-wake").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			if vmi, ok := ev.Object.(*kubevirtv1.VirtualMachineInstance); ok && ev.Type == watch.Added {
				createdMu.Lock()
				created[vmi.Name] = time.Now()
				createdMu.Unlock()
			}
		}
	}()

	rec.Record(true)
	var wakes, bares []time.Duration
	next := time.Now()
	for i := range n {
		var w, bb time.Duration
		if i%2 == 0 {
			w = wake(i)
			time.Sleep(latencyCycle / 3)
			bb = bare(i)
		} else {
			bb = bare(i)
			time.Sleep(latencyCycle / 3)
			w = wake(i)
		}
		if i >= latencyWarmup {
			wakes = append(wakes, w)
			bares = append(bares, bb)
		}
		next = next.Add(latencyCycle)
		time.Sleep(time.Until(next))
	}
	time.Sleep(time.Second) // the last event
	rec.Record(false)
	calls := rec.Take()

	if got := metrictest.Value(app.Registry(), "wol_vm_started_total", "path", "subresource"); got != float64(n) {
		b.Fatalf("the listener reports %v VMs started through the subresource, want %d", got, n)
	}
	var instances []time.Duration
	if !waitFor(30*time.Second, 100*time.Millisecond, func() bool {
		createdMu.Lock()
		defer createdMu.Unlock()
		return len(created) == n
	}) {
		b.Fatalf("virt-controller created %d instances for %d started VMs", len(created), n)
	}
	createdMu.Lock()
	for i := latencyWarmup; i < n; i++ {
		instances = append(instances, created[vms[i].Name].Sub(sentAt[i]))
	}
	createdMu.Unlock()
	slices.Sort(wakes)
	slices.Sort(bares)
	slices.Sort(instances)
	b.Logf("wake: p50 %s p90 %s p99 %s max %s; bare virtctl start: p50 %s p90 %s p99 %s max %s; packet to instance: p50 %s p99 %s",
		percentile(wakes, 50), percentile(wakes, 90), percentile(wakes, 99), wakes[len(wakes)-1],
		percentile(bares, 50), percentile(bares, 90), percentile(bares, 99), bares[len(bares)-1],
		percentile(instances, 50), percentile(instances, 99))
	b.Logf("listener API calls: %s", apirecorder.Summary(calls))
	b.Logf("wake path, medians: %s", wakeBreakdown(calls, vms, sentAt))
	b.ReportMetric(float64(percentile(wakes, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(wakes, 99)), "p99-ns")
	b.ReportMetric(float64(percentile(bares, 50)), "bare-p50-ns")
	b.ReportMetric(float64(percentile(bares, 99)), "bare-p99-ns")
	b.ReportMetric(float64(percentile(instances, 50)), "vmi-p50-ns")
	b.ReportMetric(float64(percentile(instances, 99)), "vmi-p99-ns")
	b.ReportMetric(float64(len(calls))/float64(n), "api-calls/wake")
	b.ReportMetric(0, "ns/op")
}

// wakeBreakdown splits the wakes' latency into its steps, from the calls
// the listener made: the time from the packet to the first request, each
// request's duration, and the gaps between them (medians over the wakes).
func wakeBreakdown(calls []apirecorder.Call, vms []*kubevirtv1.VirtualMachine, sentAt []time.Time) string {
	byVM := map[string][]apirecorder.Call{}
	for _, c := range calls {
		if c.Method == "POST" { // events go out after the start was accepted
			continue
		}
		name := strings.TrimSuffix(c.Path, "/start")
		name = name[strings.LastIndex(name, "/")+1:]
		byVM[name] = append(byVM[name], c)
	}
	steps := map[string][]time.Duration{}
	var order []string
	add := func(k string, d time.Duration) {
		if _, ok := steps[k]; !ok {
			order = append(order, k)
		}
		steps[k] = append(steps[k], d)
	}
	for i, vm := range vms {
		cs := byVM[vm.Name]
		if len(cs) == 0 || sentAt[i].IsZero() {
			continue
		}
		slices.SortFunc(cs, func(a, b apirecorder.Call) int { return a.Start.Compare(b.Start) })
		add("packet to first request", cs[0].Start.Sub(sentAt[i]))
		for k, c := range cs {
			if k > 0 {
				add("gap", c.Start.Sub(cs[k-1].End))
			}
			add(c.Method+" "+apirecorder.Resource(c.Path), c.End.Sub(c.Start))
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		d := steps[k]
		slices.Sort(d)
		parts = append(parts, fmt.Sprintf("%s %s", k, percentile(d, 50).Round(10*time.Microsecond)))
	}
	return strings.Join(parts, ", ")
}
