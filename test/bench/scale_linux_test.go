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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
)

const (
	scaleNamespaces = 10
	scaleRuns       = 3
	// scaleSettle is how long after becoming ready the listener is left
	// alone before its memory is read: the garbage of the initial list is
	// collected by then and the heap is what the listener keeps.
	scaleSettle = 5 * time.Second
)

// BenchmarkScale is figure 4 of `make bench`: the listener process
// (bin/listener, as built by `make build-bin`) against envtest holding 0,
// 1,000 and 10,000 VirtualMachines (sub-benchmarks vms=N), in every
// namespace, with a WolConfig in All mode that covers them all.
//
// For each size the process is started scaleRuns times with an admin
// kubeconfig, a free UDP port and --insecure-metrics on a free local port;
// reported are the medians of:
//
//	sync-s       process start to the first 200 from /readyz (ready means:
//	             WolConfig read, sockets bound, VM index synced)
//	bare-list-s  the baseline for sync-s: one LIST of all VirtualMachines
//	             through the API with a typed client (decoded, not indexed)
//	rss-MiB      VmRSS of the process scaleSettle after ready
//	peak-rss-MiB VmHWM (peak RSS) at the same moment
//	anon-rss-MiB RssAnon: the anonymous part of rss-MiB (heap, stacks,
//	             runtime)
//	file-rss-MiB RssFile: the file-backed part (the executable's pages)
//	heap-MiB     the process's go_memstats_heap_inuse_bytes at that moment
//
// The baseline of the memory figures is the vms=0 run (same binary, same
// configuration, nothing to index).
func BenchmarkScale(b *testing.B) {
	bin := filepath.Join(testenv.BinDir(), "listener")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s is missing: run `make build-bin` first (%v)", bin, err)
	}
	ctx := context.Background()
	cfg := startEnv(b, false)
	c := newClients(b, fixtureConfig(cfg))
	kubeconfig := writeKubeconfig(b, cfg)
	for n := range scaleNamespaces {
		c.namespaces(b, ctx, fmt.Sprintf("scale-%d", n))
	}
	createWolConfig(b, ctx, cfg, &wolv1beta1.WolConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "scale"},
		Spec: wolv1beta1.WolConfigSpec{
			DiscoveryMode: wolv1beta1.DiscoveryModeAll,
			WolPorts:      []int32{int32(freePort(b, "udp"))},
		},
	})

	created := 0
	for _, size := range []int{0, 1_000, 10_000} {
		b.Run(fmt.Sprintf("vms=%d", size), func(b *testing.B) {
			var vms []*kubevirtv1.VirtualMachine
			for i := created; i < size; i++ {
				vms = append(vms, benchVM(fmt.Sprintf("scale-%d", i%scaleNamespaces), fmt.Sprintf("vm-%05d", i),
					benchMAC(0x5c, i), map[string]string{"tier": fmt.Sprint(i % 3), "wol": "on"}))
			}
			if len(vms) > 0 {
				createVMs(b, ctx, c.kv, vms)
			}
			created = size

			lists := make([]float64, 0, scaleRuns)
			for range scaleRuns {
				start := time.Now()
				list, err := c.kv.KubevirtV1().VirtualMachines("").List(ctx, metav1.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				lists = append(lists, time.Since(start).Seconds())
				if len(list.Items) != size {
					b.Fatalf("listed %d VMs, want %d", len(list.Items), size)
				}
			}
			perRun := func() []float64 { return make([]float64, 0, scaleRuns) }
			syncs, rss, anon, file, peak, heap := perRun(), perRun(), perRun(), perRun(), perRun(), perRun()
			for run := range scaleRuns {
				r := runListener(b, bin, kubeconfig, size)
				syncs, rss, peak, heap = append(syncs, r.sync), append(rss, r.rss), append(peak, r.peak), append(heap, r.heap)
				anon, file = append(anon, r.anon), append(file, r.file)
				b.Logf("run %d: ready after %.2fs; RSS %.1f MiB at ready, %.1f MiB %s later (%.1f anonymous, %.1f file-backed; peak %.1f MiB); heap in use %.1f MiB",
					run, r.sync, r.rssAtReady, r.rss, scaleSettle, r.anon, r.file, r.peak, r.heap)
			}
			b.ReportMetric(median(syncs), "sync-s")
			b.ReportMetric(median(lists), "bare-list-s")
			b.ReportMetric(median(rss), "rss-MiB")
			b.ReportMetric(median(peak), "peak-rss-MiB")
			b.ReportMetric(median(anon), "anon-rss-MiB")
			b.ReportMetric(median(file), "file-rss-MiB")
			b.ReportMetric(median(heap), "heap-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

type listenerRun struct{ sync, rssAtReady, rss, anon, file, peak, heap float64 }

// runListener starts bin/listener, waits until it is ready and its index
// holds vms VMs, reads its memory, and stops it.
func runListener(b *testing.B, bin, kubeconfig string, vms int) listenerRun {
	b.Helper()
	port := freePort(b, "tcp")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	logFile, err := os.CreateTemp(b.TempDir(), "listener-*.log")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin, "--wolconfig=scale", "--node-name=bench", "--insecure-metrics",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	httpc := &http.Client{Timeout: time.Second}
	get := func(path string) (int, string) {
		resp, err := httpc.Get(base + path)
		if err != nil {
			return 0, ""
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				b.Logf("listener exited after SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			b.Logf("listener killed, 10s after SIGTERM: %v", <-exited)
		}
	}
	fail := func(format string, args ...any) {
		b.Helper()
		stop()
		log, _ := os.ReadFile(logFile.Name())
		b.Fatalf("%s\nlistener log:\n%s", fmt.Sprintf(format, args...), tail(string(log), 40))
	}

	var r listenerRun
	ready := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		if code, _ := get("/readyz"); code == http.StatusOK {
			ready = true
			break
		}
		select {
		case err := <-exited:
			exited <- err
			fail("listener exited before it was ready: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	r.sync = time.Since(start).Seconds()
	if !ready {
		fail("listener not ready within 3 minutes")
	}
	pid := cmd.Process.Pid
	if r.rssAtReady, err = procStatusKiB(pid, "VmRSS"); err != nil {
		fail("%v", err)
	}
	r.rssAtReady /= 1024
	time.Sleep(scaleSettle)
	_, metrics := get("/metrics")
	rss, err := procStatusKiB(pid, "VmRSS")
	if err != nil {
		fail("%v", err)
	}
	peak, err := procStatusKiB(pid, "VmHWM")
	if err != nil {
		fail("%v", err)
	}
	anon, err := procStatusKiB(pid, "RssAnon")
	if err != nil {
		fail("%v", err)
	}
	file, err := procStatusKiB(pid, "RssFile")
	if err != nil {
		fail("%v", err)
	}
	r.rss, r.peak, r.anon, r.file = rss/1024, peak/1024, anon/1024, file/1024
	heap := metrictest.TextValue(metrics, "go_memstats_heap_inuse_bytes")
	if heap == 0 {
		fail("no go_memstats_heap_inuse_bytes in /metrics")
	}
	r.heap = heap / (1 << 20)
	if managed := metrictest.TextValue(metrics, "wol_managed_vms"); managed != float64(vms) {
		fail("the listener's index holds %v VMs, want %d", managed, vms)
	}
	stop()
	return r
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// freePort returns a port that was free on 127.0.0.1 ("tcp") or on every
// address ("udp") a moment ago.
func freePort(b *testing.B, network string) int {
	b.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = pc.Close() }()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// writeKubeconfig writes an admin kubeconfig for cfg (envtest's admin user)
// and returns its path.
func writeKubeconfig(b *testing.B, cfg *rest.Config) string {
	b.Helper()
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(b.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		b.Fatal(err)
	}
	return path
}
