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
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

const (
	replicas = 3
	rounds   = 30
)

// Several listener replicas hear the same broadcast and race to start one
// stopped VM, through real virt-api (or direct patches). Every round ends
// with one instance created by virt-controller and the VM changed as one
// start changes it; every call reports Started or AlreadyStarting.
//
// How many report Started depends on the write: a Halted VM's start is a
// JSON patch with a test of the old run strategy, so exactly one writer
// wins, through virt-api or directly. A Manual VM's start is a state change
// request: a direct patch tests the requests the starter read, so exactly
// one wins; virt-api tests the requests it reads itself, and virt-controller
// consumes the first request within milliseconds, so a second replica's
// request can be accepted too (virt-controller then finds the instance
// already there and drops it). That is KubeVirt's own behaviour for
// concurrent `virtctl start` calls; docs/starting-vms.md says so.
var _ = Describe("Concurrent starts", func() {
	for _, api := range []vmstarter.APIMode{vmstarter.APISubresource, vmstarter.APIDirect} {
		It(fmt.Sprintf("start a stopped VM exactly once: %d starters × %d rounds through %s", replicas, rounds, api),
			func(ctx SpecContext) {
				cfg := listenerCfg
				if api == vmstarter.APIDirect {
					cfg = directCfg
				}
				// Each starter is a listener replica: its own instance, its
				// own metrics; nothing shared but the API server.
				regs := make([]*prometheus.Registry, replicas)
				starters := make([]*vmstarter.Starter, replicas)
				for i := range starters {
					regs[i] = prometheus.NewRegistry()
					starters[i] = newStarter(cfg, api, regs[i], func(o *vmstarter.Options) { o.Log = o.Log.V(1) })
				}
				var started, startingAfterConflict, startingAtFirstRead, conflicts, extra int
				for round := range rounds {
					// Even rounds start a Halted VM (a spec change), odd ones
					// a Manual VM (a state change request).
					strategy := kubevirtv1.RunStrategyHalted
					if round%2 == 1 {
						strategy = kubevirtv1.RunStrategyManual
					}
					name := uniqueName(fmt.Sprintf("race-%s-%d", api, round))
					createVM(ctx, vmfixture.New(vmNamespace, name, vmfixture.RunStrategy(strategy), vmfixture.MACs("52:54:00:00:00:02")))
					key := types.NamespacedName{Namespace: vmNamespace, Name: name}

					results := make([]vmstarter.Result, replicas)
					errs := make([]error, replicas)
					var wg sync.WaitGroup
					gate := make(chan struct{})
					for i := range starters {
						wg.Go(func() {
							defer GinkgoRecover()
							<-gate
							results[i], errs[i] = starters[i].Start(ctx, key, testOrigin)
						})
					}
					close(gate)
					wg.Wait()

					winners := 0
					for i, res := range results {
						Expect(errs[i]).NotTo(HaveOccurred(), "round %d starter %d", round, i)
						conflicts += res.Conflicts
						switch res.Outcome {
						case vmstarter.Started:
							winners++
						case vmstarter.AlreadyStarting:
							if res.Conflicts > 0 {
								startingAfterConflict++
							} else {
								startingAtFirstRead++
							}
						default:
							Fail(fmt.Sprintf("round %d starter %d: outcome %s (%s)", round, i, res.Outcome, res.Message))
						}
					}
					if strategy == kubevirtv1.RunStrategyHalted || api == vmstarter.APIDirect {
						Expect(winners).To(Equal(1), "round %d: exactly one start", round)
					} else {
						Expect(winners).To(BeNumerically(">=", 1), "round %d: at least one start", round)
						extra += winners - 1
					}
					started += winners

					// virt-controller made one instance of it.
					Eventually(func() string { return observe(ctx, name) }).WithTimeout(30*time.Second).Should(Equal(stScheduled), "round %d", round)
					vm, err := adminKV.KubevirtV1().VirtualMachines(vmNamespace).Get(ctx, name, metav1.GetOptions{})
					Expect(err).NotTo(HaveOccurred())
					want := kubevirtv1.RunStrategyManual
					if strategy == kubevirtv1.RunStrategyHalted {
						want = kubevirtv1.RunStrategyAlways
					}
					Expect(*vm.Spec.RunStrategy).To(Equal(want), "round %d", round)
				}

				var startedMetric, conflictMetric float64
				for _, reg := range regs {
					startedMetric += metrictest.Value(reg, "wol_vm_started_total", "path", map[vmstarter.APIMode]string{
						vmstarter.APISubresource: "subresource", vmstarter.APIDirect: "direct"}[api])
					conflictMetric += metrictest.Value(reg, "wol_vm_start_retries_total", "reason", "conflict")
				}
				summary := fmt.Sprintf("%s: %d rounds × %d starters: %d started (%d extra requests virt-api accepted for Manual VMs), "+
					"%d already starting after a lost race, %d already starting at first read; %d lost races (retry metric %v)",
					api, rounds, replicas, started, extra, startingAfterConflict, startingAtFirstRead, conflicts, conflictMetric)
				GinkgoWriter.Println(summary)
				AddReportEntry("concurrency "+api.String(), summary)

				Expect(started).To(Equal(rounds + extra))
				Expect(startedMetric).To(Equal(float64(started)), "wol_vm_started_total counts accepted start requests")
				Expect(startingAfterConflict + startingAtFirstRead).To(Equal(rounds*replicas - started))
			})
	}
})
