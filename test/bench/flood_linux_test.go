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
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"golang.org/x/sys/unix"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

const (
	floodPort     = 9  // the listener's port
	floodBarePort = 10 // the bare reader's port
	floodRounds   = 3
	floodWarmup   = 300 * time.Millisecond
	floodWindow   = 1500 * time.Millisecond
	// floodPacedRate is the offered load of the phase that sends the valid
	// wake: the target rate.
	floodPacedRate = 300_000
)

// BenchmarkFlood is figure 2 of `make bench`: how many packets per second
// the listener handles on one core while a separate process floods it over
// loopback with junk, duplicates and wakes for unknown MACs — and whether a
// valid wake sent during the flood is still served.
//
// The listener is the whole listener process's code (listenerapp.App:
// packet engine, VM index fed by a watch, starter, events) running in this
// process against envtest, with GOMAXPROCS=1 and every thread pinned to
// CPU 0 while it is measured; the sender is a child process pinned to CPU 1
// (sendmmsg of UDP GSO buffers from 127.0.0.2, see runSender). The baseline
// is the kernel's own receive rate for the same sender: a bare socket read
// with blocking recvmmsg (32 per call) and nothing else, on the same pinned
// core. Each of floodRounds rounds runs the bare reader, then the listener,
// at full speed (rates over floodWindow after floodWarmup), then the
// listener with the sender paced at floodPacedRate; medians are reported.
//
// The duplicated packet is for a VM that was started just before the
// flood (its wake is within the WolConfig's dedupe window, 120 s here);
// every API request the App makes from the first round on is recorded by a
// counting transport, and those not caused by the valid wakes (namespace
// flood-valid) are reported as api-calls, which must be 0. In each paced
// phase one valid wake for another Halted VM is sent from 127.0.0.3 (a
// source the flood has not rate-limited); each must be started, or the
// benchmark fails.
//
// Reported: pkts/s (listener) and bare-pkts/s (baseline) at full speed,
// sender-pkts/s (offered to the listener), drop-% (datagrams the kernel
// dropped because the listener's socket buffer was full, in % of those
// offered), cpu-ns/pkt and bare-cpu-ns/pkt (process CPU time per packet),
// paced-sender-pkts/s, paced-pkts/s and paced-drop-% (the paced phase),
// api-calls, valid-served (1 when every valid wake was served) and
// valid-api-calls (requests per valid wake, its event included).
func BenchmarkFlood(b *testing.B) {
	netlab.Require(b, "this benchmark")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := startEnv(b, true)
	c := newClients(b, fixtureConfig(cfg))
	nsPath := nodeNetNS(b)

	dupMAC := benchMAC(0xd0, 1)
	c.namespaces(b, ctx, "flood-dup", "flood-valid")
	vms := make([]*kubevirtv1.VirtualMachine, 0, 1+floodRounds)
	vms = append(vms, benchVM("flood-dup", "dup", dupMAC, nil))
	for r := range floodRounds {
		vms = append(vms, benchVM("flood-valid", fmt.Sprintf("valid-%d", r), benchMAC(0xd1, r), nil))
	}
	createVMs(b, ctx, c.kv, vms)
	wc := &wolv1beta1.WolConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "flood"},
		Spec: wolv1beta1.WolConfigSpec{
			DiscoveryMode:       wolv1beta1.DiscoveryModeAll,
			NamespaceSelectors:  []string{"flood-dup", "flood-valid"},
			WolPorts:            []int32{floodPort},
			DedupeWindowSeconds: ptr.To[int32](120),
		},
	}
	createWolConfig(b, ctx, cfg, wc)

	rec := apirecorder.New()
	rec.Record(false)
	appCfg := rec.Config(cfg)
	app := runApp(b, listenerapp.Options{WolConfig: "flood", RestConfig: appCfg, NetNS: nsPath})

	// Senders of single packets, in the listener's namespace.
	send := func(src [4]byte, payload []byte) {
		b.Helper()
		if err := netns.Run(nsPath, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer func() { _ = unix.Close(fd) }()
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
				return err
			}
			return unix.Sendto(fd, payload, 0, &unix.SockaddrInet4{Port: floodPort, Addr: [4]byte{127, 0, 0, 1}})
		}); err != nil {
			b.Fatal(err)
		}
	}

	// Start the VM the duplicates are for, before the flood: from then on
	// its packets are duplicates.
	send([4]byte{127, 0, 0, 4}, wol.AppendMagic(nil, dupMAC, nil))
	if !waitFor(20*time.Second, 20*time.Millisecond, func() bool {
		return runStrategyOf(ctx, c.kv, "flood-dup", "dup") == kubevirtv1.RunStrategyAlways
	}) {
		b.Fatal("the VM of the duplicated packet was not started before the flood")
	}
	if !waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		evs, err := c.kube.CoreV1().Events("flood-dup").List(ctx, metav1.ListOptions{})
		return err == nil && len(evs.Items) > 0
	}) {
		b.Fatal("no event recorded for the VM of the duplicated packet")
	}
	time.Sleep(500 * time.Millisecond)

	bare := openBareReader(b, nsPath)
	defer bare.close()

	processed := func() float64 {
		return metrictest.Value(app.Registry(), "wol_packets_total")
	}
	rec.Record(true)
	runtime.GC()
	prevProcs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prevProcs)
	listenerCPU, senderCPU := 0, 1
	if runtime.NumCPU() < 2 {
		b.Log("only one CPU: sender and listener share it (no pinning)")
		listenerCPU, senderCPU = -1, -1
	}
	type result struct{ rate, offered, dropPct, cpuNs float64 }
	phase := func(port int, rate float64, count func() float64, during func()) result {
		if listenerCPU >= 0 {
			if err := pinProcess(listenerCPU); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = unpinProcess() }()
		}
		drops0, err := udpRcvbufErrors(nsPath)
		if err != nil {
			b.Fatal(err)
		}
		duration := floodWarmup + floodWindow + 200*time.Millisecond
		s := startSender(b, senderSpec{NetNS: nsPath, CPU: senderCPU, Port: port, Source: "127.0.0.2",
			Duration: duration, Rate: rate, DupMAC: dupMAC})
		time.Sleep(floodWarmup)
		var ru0, ru1 unix.Rusage
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
		c0, t0 := count(), time.Now()
		if during != nil {
			time.Sleep(floodWindow / 2)
			during()
			time.Sleep(floodWindow - floodWindow/2)
		} else {
			time.Sleep(floodWindow)
		}
		c1, t1 := count(), time.Now()
		_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
		offered := s.wait(b)
		drops1, err := udpRcvbufErrors(nsPath)
		if err != nil {
			b.Fatal(err)
		}
		cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		return result{
			rate:    (c1 - c0) / t1.Sub(t0).Seconds(),
			offered: offered,
			dropPct: 100 * float64(drops1-drops0) / (offered * duration.Seconds()),
			cpuNs:   float64(cpu) / (c1 - c0),
		}
	}
	bareMax := make([]result, 0, floodRounds)
	listenerMax := make([]result, 0, floodRounds)
	paced := make([]result, 0, floodRounds)
	for r := range floodRounds {
		bareMax = append(bareMax, phase(floodBarePort, 0, bare.count, nil))
		listenerMax = append(listenerMax, phase(floodPort, 0, processed, nil))
		valid := wol.AppendMagic(nil, benchMAC(0xd1, r), nil)
		paced = append(paced, phase(floodPort, floodPacedRate, processed, func() { send([4]byte{127, 0, 0, 3}, valid) }))
		b.Logf("round %d: bare reader %.0f pkts/s (%.0f ns CPU/pkt, %.1f%% dropped, %.0f offered); "+
			"listener %.0f pkts/s (%.0f ns CPU/pkt, %.1f%% dropped, %.0f offered); "+
			"at %.0f pkts/s offered with a valid wake: %.0f pkts/s, %.1f%% dropped",
			r, bareMax[r].rate, bareMax[r].cpuNs, bareMax[r].dropPct, bareMax[r].offered,
			listenerMax[r].rate, listenerMax[r].cpuNs, listenerMax[r].dropPct, listenerMax[r].offered,
			paced[r].offered, paced[r].rate, paced[r].dropPct)
	}
	field := func(rs []result, f func(result) float64) float64 {
		xs := make([]float64, 0, len(rs))
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	runtime.GOMAXPROCS(prevProcs)

	served := 0
	for r := range floodRounds {
		if waitFor(20*time.Second, 20*time.Millisecond, func() bool {
			return runStrategyOf(ctx, c.kv, "flood-valid", fmt.Sprintf("valid-%d", r)) == kubevirtv1.RunStrategyAlways
		}) {
			served++
		}
	}
	// Let the events of the last start go out before counting.
	waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		evs, err := c.kube.CoreV1().Events("flood-valid").List(ctx, metav1.ListOptions{})
		return err == nil && len(evs.Items) >= served
	})
	time.Sleep(time.Second)
	rec.Record(false)
	var floodCalls, validCalls []apirecorder.Call
	for _, call := range rec.Take() {
		switch {
		case call.Watch:
		case strings.Contains(call.Path, "/namespaces/flood-valid/"):
			validCalls = append(validCalls, call)
		default:
			floodCalls = append(floodCalls, call)
		}
	}
	logVerdicts(b, app)
	b.Logf("API calls for the %d valid wakes: %s; not caused by a valid wake: %s", served,
		apirecorder.Summary(validCalls), apirecorder.Summary(floodCalls))
	if served != floodRounds {
		b.Fatalf("only %d of the %d valid wakes sent during the flood were served", served, floodRounds)
	}

	b.ReportMetric(field(listenerMax, func(r result) float64 { return r.rate }), "pkts/s")
	b.ReportMetric(field(bareMax, func(r result) float64 { return r.rate }), "bare-pkts/s")
	b.ReportMetric(field(listenerMax, func(r result) float64 { return r.offered }), "sender-pkts/s")
	b.ReportMetric(field(listenerMax, func(r result) float64 { return r.dropPct }), "drop-%")
	b.ReportMetric(field(listenerMax, func(r result) float64 { return r.cpuNs }), "cpu-ns/pkt")
	b.ReportMetric(field(bareMax, func(r result) float64 { return r.cpuNs }), "bare-cpu-ns/pkt")
	b.ReportMetric(field(paced, func(r result) float64 { return r.offered }), "paced-sender-pkts/s")
	b.ReportMetric(field(paced, func(r result) float64 { return r.rate }), "paced-pkts/s")
	b.ReportMetric(field(paced, func(r result) float64 { return r.dropPct }), "paced-drop-%")
	b.ReportMetric(float64(len(floodCalls)), "api-calls")
	b.ReportMetric(1, "valid-served")
	b.ReportMetric(float64(len(validCalls))/float64(served), "valid-api-calls")
	b.ReportMetric(0, "ns/op")
}

// logVerdicts logs what the listener did with the packets it received.
func logVerdicts(b *testing.B, app *listenerapp.App) {
	b.Helper()
	var s strings.Builder
	for _, r := range []string{"accepted", "invalid", "duplicate", "rate_limited", "queue_full", "filtered", "refused"} {
		fmt.Fprintf(&s, " %s=%.0f", r, metrictest.Value(app.Registry(), "wol_packets_total", "result", r))
	}
	for _, r := range []string{"found", "not_found"} {
		fmt.Fprintf(&s, " lookup_%s=%.0f", r, metrictest.Value(app.Registry(), "wol_wake_lookups_total", "result", r))
	}
	b.Logf("listener verdicts:%s", s.String())
}

// bareReader is the baseline: a UDP socket read with blocking recvmmsg
// (32 datagrams per call) on a thread of its own, counting datagrams.
type bareReader struct {
	fd   int
	n    atomic.Int64
	stop atomic.Bool
	done chan struct{}
}

func openBareReader(b *testing.B, nsPath string) *bareReader {
	b.Helper()
	r := &bareReader{done: make(chan struct{})}
	if err := netns.Run(nsPath, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		r.fd = fd
		// The listener's default receive buffer.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiver.DefaultReceiveBufferBytes); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000}); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Port: floodBarePort})
	}); err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(r.done)
		runtime.LockOSThread()
		const batch = 32
		var hdrs [batch]unix.Mmsghdr
		var iovs [batch]unix.Iovec
		var bufs [batch][2048]byte
		for i := range hdrs {
			iovs[i].Base = &bufs[i][0]
			iovs[i].SetLen(len(bufs[i]))
			hdrs[i].Hdr.Iov = &iovs[i]
			hdrs[i].Hdr.SetIovlen(1)
		}
		for !r.stop.Load() {
			n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&hdrs[0])), batch,
				unix.MSG_WAITFORONE, 0, 0)
			if errno == 0 {
				r.n.Add(int64(n))
			}
		}
	}()
	return r
}

func (r *bareReader) count() float64 { return float64(r.n.Load()) }

func (r *bareReader) close() {
	r.stop.Store(true)
	<-r.done
	_ = unix.Close(r.fd)
}
