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

package listenerapp_test

import (
	"context"
	"fmt"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// A flood of valid packets for many different VMs: the global rate limit
// bounds the start requests the listener sends to the API server, and every
// wake past the bound is counted.
var _ = Describe("Flood of valid packets for many VMs", Ordered, func() {
	ctx := context.Background()
	const (
		vms        = 200
		port       = 40301
		perMinute  = 600 // 10 per second
		burst      = 20
		floodFor   = 3 * time.Second
		floodEvery = time.Millisecond
	)
	macOf := func(i int) wol.MAC { return wol.MAC{0x52, 0x54, 0x00, 0xf1, byte(i >> 8), byte(i)} }
	var r *running

	BeforeAll(func() {
		namespaces(ctx, "flood")
		for i := range vms {
			create(ctx, haltedVM("flood", fmt.Sprintf("vm-%03d", i), macOf(i).String()))
		}
		r = startApp(ctx, &wolv1beta1.WolConfig{ObjectMeta: metav1.ObjectMeta{Name: "flood"}, Spec: wolv1beta1.WolConfigSpec{
			NamespaceSelectors: []string{"flood"},
			WolPorts:           []int32{port},
			RateLimit: wolv1beta1.RateLimitSpec{GlobalPerMinute: perMinute, GlobalBurst: burst,
				PerSourcePerMinute: 600000, PerSourceBurst: 10000},
		}}, appOptions{})
		Eventually(func() float64 { return r.metric("wol_managed_vms") }, 20*time.Second).Should(Equal(float64(vms)))
	})

	It("holds the API start requests to burst + rate × time, and counts every wake past the bound", func() {
		c, err := lan.Host("sender").DialContext(ctx, "udp4", net.JoinHostPort(lan.Host("node").IP.String(), fmt.Sprint(port)))
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = c.Close() }()

		start := time.Now()
		sent := 0
		for time.Since(start) < floodFor {
			_, err := c.Write(wol.AppendMagic(nil, macOf(sent%vms), nil))
			Expect(err).NotTo(HaveOccurred())
			sent++
			time.Sleep(floodEvery)
		}
		Eventually(func() float64 { return r.metric("wol_packets_total", "protocol", "udp4") }, 10*time.Second).
			Should(Equal(float64(sent)), "every packet is counted once")
		elapsed := time.Since(start)

		accepted := r.metric("wol_packets_total", "result", "accepted")
		limited := r.metric("wol_dropped_packets_total", "reason", "rate_limit_global")
		duplicates := r.metric("wol_dropped_packets_total", "reason", "duplicate")
		bound := burst + perMinute/60*elapsed.Seconds()
		AddReportEntry("flood", fmt.Sprintf("%d packets for %d VMs in %s: %v admitted (bound %.1f), %v refused by the global limit, %v duplicates",
			sent, vms, elapsed.Round(time.Millisecond), accepted, bound, limited, duplicates))
		Expect(accepted).To(BeNumerically("<=", bound))
		Expect(accepted).To(BeNumerically(">=", burst), "the limit refuses more than it should")
		Expect(accepted+limited+duplicates).To(Equal(float64(sent)), "a wake that is neither admitted nor counted")
		Expect(r.metric("wol_dropped_packets_total", "reason", "rate_limit_source")).To(BeZero())
		Expect(r.metric("wol_dropped_packets_total", "reason", "queue_full")).To(BeZero())

		By("every admitted wake, and only those, reaching the API server")
		Eventually(func() float64 { return r.metric("wol_vm_start_outcomes_total") }, 30*time.Second).Should(Equal(accepted))
		Expect(r.metric("wol_vm_started_total")).To(Equal(accepted))
		var starts []apirecorder.Call
		for _, c := range r.api.Calls() {
			if vmWrite(c) {
				starts = append(starts, c)
			}
		}
		writes := len(starts)
		Expect(float64(writes)).To(Equal(accepted), "one start request per admitted wake")
		last := starts[len(starts)-1].Start
		Expect(float64(writes)).To(BeNumerically("<=", burst+perMinute/60*last.Sub(start).Seconds()),
			"start requests exceed the bound at %s", last.Sub(start))
	})
})
