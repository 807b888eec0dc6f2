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

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

const (
	replicas = 3
	rounds   = 100
)

var _ = Describe("Concurrent starts", func() {
	for _, api := range []vmstarter.APIMode{vmstarter.APIDirect, vmstarter.APISubresource} {
		It(fmt.Sprintf("start one VM exactly once per round: %d starters × %d rounds through %s", replicas, rounds, pathOf(api)),
			func(ctx SpecContext) {
				name := uniqueName("race")
				key := types.NamespacedName{Namespace: vmNamespace, Name: name}
				createVM(ctx, name, strategies[1], false)
				vms := adminKV.KubevirtV1().VirtualMachines(vmNamespace)

				// Each starter is a listener replica: its own instance,
				// its own metrics; nothing shared but the API server.
				regs := make([]*prometheus.Registry, replicas)
				starters := make([]*vmstarter.Starter, replicas)
				for i := range starters {
					regs[i] = prometheus.NewRegistry()
					starters[i] = newStarter(api, regs[i], func(o *vmstarter.Options) { o.Log = o.Log.V(1) })
				}

				var started, startingAfterConflict, startingAtFirstRead, conflicts int
				for round := range rounds {
					// Reset the VM between rounds, as virt-controller and a
					// user stopping it would: even rounds use Halted (spec
					// patch), odd rounds Manual (status change request), and
					// every tenth round starts from an empty status.
					strategy := kubevirtv1.RunStrategyHalted
					if round%2 == 1 {
						strategy = kubevirtv1.RunStrategyManual
					}
					_, err := vms.Patch(ctx, name, types.MergePatchType,
						[]byte(fmt.Sprintf(`{"spec":{"runStrategy":%q}}`, strategy)), metav1.PatchOptions{})
					Expect(err).NotTo(HaveOccurred())
					status := `{"status":{"stateChangeRequests":null,"printableStatus":"Stopped"}}`
					if round%10 == 9 {
						status = `{"status":null}`
					}
					_, err = vms.Patch(ctx, name, types.MergePatchType, []byte(status), metav1.PatchOptions{}, "status")
					Expect(err).NotTo(HaveOccurred())

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
					Expect(winners).To(Equal(1), "round %d: exactly one start", round)
					started += winners

					// The VM changed exactly once: one strategy flip, or one
					// Start request (never two).
					vm, err := vms.Get(ctx, name, metav1.GetOptions{})
					Expect(err).NotTo(HaveOccurred())
					if strategy == kubevirtv1.RunStrategyHalted {
						Expect(*vm.Spec.RunStrategy).To(Equal(kubevirtv1.RunStrategyAlways))
						Expect(vm.Status.StateChangeRequests).To(BeEmpty())
					} else {
						Expect(*vm.Spec.RunStrategy).To(Equal(kubevirtv1.RunStrategyManual))
						Expect(vm.Status.StateChangeRequests).To(Equal([]kubevirtv1.VirtualMachineStateChangeRequest{{Action: kubevirtv1.StartRequest}}))
					}
				}

				var startedMetric, conflictMetric float64
				for _, reg := range regs {
					startedMetric += counter(reg, "wol_vm_started_total", "path", pathOf(api).String())
					conflictMetric += counter(reg, "wol_vm_start_retries_total", "reason", "conflict")
				}
				summary := fmt.Sprintf("%s: %d rounds × %d starters: %d started, %d already starting after a lost race, "+
					"%d already starting at first read; %d conflicting writes retried (metric %v)",
					pathOf(api), rounds, replicas, started, startingAfterConflict, startingAtFirstRead, conflicts, conflictMetric)
				fmt.Fprintln(GinkgoWriter, summary)
				AddReportEntry("concurrency "+pathOf(api).String(), summary)

				Expect(started).To(Equal(rounds))
				Expect(startedMetric).To(Equal(float64(rounds)), "wol_vm_started_total counts real starts only")
				Expect(conflictMetric).To(Equal(float64(conflicts)))
				Expect(startingAfterConflict + startingAtFirstRead).To(Equal(rounds * (replicas - 1)))
			})
	}
})
