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

package vmindex_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// running is a Watcher started for one spec.
type running struct {
	w   *vmindex.Watcher
	idx *vmindex.Index
	reg *prometheus.Registry
}

// startWatcher runs a Watcher as the listener's ServiceAccount until the end
// of the spec, and waits until it has synchronised.
func startWatcher(spec wolv1beta1.WolConfigSpec) running {
	reg := prometheus.NewRegistry()
	idx, err := vmindex.NewIndex(mustScope(spec), reg)
	Expect(err).NotTo(HaveOccurred())
	w := vmindex.NewWatcher(listenerKV.KubevirtV1(), idx, testLog())
	ctx, cancel := context.WithCancel(suiteCtx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(w.Run(ctx)).To(Succeed())
	}()
	DeferCleanup(func() {
		cancel()
		Eventually(done).Should(BeClosed())
	})
	start := time.Now()
	Eventually(w.HasSynced).WithTimeout(10 * time.Second).Should(BeTrue())
	GinkgoWriter.Println("watcher synchronised in", time.Since(start))
	return running{w: w, idx: idx, reg: reg}
}

// resolve describes what the index says about mac, e.g. "found ns/vm".
func (r running) resolve(mac wol.MAC) func() string {
	return func() string {
		vm, res := r.idx.Resolve(mac)
		if res == vmindex.NotFound {
			return res.String()
		}
		return res.String() + " " + vm.String()
	}
}

func found(ns, name string) string { return "found " + ns + "/" + name }

func (r running) gauge(name string) float64 { return metrictest.Value(r.reg, name) }

// createVM creates vm (as an admin) and deletes it at the end of the spec.
func createVM(ctx context.Context, vm *kubevirtv1.VirtualMachine) {
	vms := adminKV.KubevirtV1().VirtualMachines(vm.Namespace)
	_, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		if err := vms.Delete(ctx, vm.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	})
}

func patchVM(ctx context.Context, ns, name, mergePatch string) {
	_, err := adminKV.KubevirtV1().VirtualMachines(ns).Patch(ctx, name, types.MergePatchType, []byte(mergePatch), metav1.PatchOptions{})
	Expect(err).NotTo(HaveOccurred())
}

func setMAC(ctx context.Context, ns, name, mac string) {
	vms := adminKV.KubevirtV1().VirtualMachines(ns)
	vm, err := vms.Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	vm.Spec.Template.Spec.Domain.Devices.Interfaces[0].MacAddress = mac
	_, err = vms.Update(ctx, vm, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("Watcher", func() {
	It("All mode over every namespace: finds VMs, lists the not wakeable, reports and clears conflicts, forgets deleted VMs", func(ctx SpecContext) {
		nsA, nsB := newNamespace(ctx, "all-a"), newNamespace(ctx, "all-b")
		m1, m2 := freshMAC(), freshMAC()
		r := startWatcher(allSpec())
		Expect(r.w.Namespaces()).To(Equal([]string{""}), "one cluster-wide watch")

		// Upper case with '-': normalised.
		createVM(ctx, newVM(nsA, "vm1", nil, iface{Name: "default", MAC: strings.ToUpper(strings.ReplaceAll(m1.String(), ":", "-"))}))
		createVM(ctx, newVM(nsA, "dynamic", nil, iface{Name: "default", MAC: ""}))
		Eventually(r.resolve(m1)).Should(Equal(found(nsA, "vm1")))
		Eventually(func() []vmindex.VMIssue { return r.idx.Snapshot(-1).NotWakeable }).
			Should(ContainElement(vmindex.VMIssue{VM: nn(nsA, "dynamic"), Unfixed: []string{"default"}}))

		// The same MAC in another namespace: a conflict, neither is woken.
		createVM(ctx, newVM(nsB, "clone", nil, iface{Name: "default", MAC: m1.String()}))
		Eventually(r.resolve(m1)).Should(HavePrefix("conflict"))
		Expect(r.idx.Snapshot(-1).Conflicts).To(ContainElement(vmindex.ConflictEntry{MAC: m1, VMs: []types.NamespacedName{nn(nsA, "vm1"), nn(nsB, "clone")}}))
		Eventually(func() float64 { return r.gauge("wol_vm_mac_conflicts") }).Should(BeNumerically(">=", 1))

		// The clone gets its own MAC: the conflict clears.
		setMAC(ctx, nsB, "clone", m2.String())
		Eventually(r.resolve(m1)).Should(Equal(found(nsA, "vm1")))
		Eventually(r.resolve(m2)).Should(Equal(found(nsB, "clone")))
		Expect(r.idx.Snapshot(-1).Conflicts).NotTo(ContainElement(HaveField("MAC", m1)))

		// A deleted VM is forgotten; the gauge follows the index.
		Expect(adminKV.KubevirtV1().VirtualMachines(nsA).Delete(ctx, "vm1", metav1.DeleteOptions{})).To(Succeed())
		Eventually(r.resolve(m1)).Should(Equal("not_found"))
		Eventually(func() float64 { return r.gauge("wol_managed_vms") }).Should(Equal(float64(r.idx.Snapshot(0).ManagedVMs)))

		// A full resync from the cache changes nothing in a correct index.
		// (Only this spec's VMs are checked: this watcher also sees the
		// other specs' VMs come and go.)
		r.w.Resync()
		Expect(r.resolve(m1)()).To(Equal("not_found"))
		Expect(r.resolve(m2)()).To(Equal(found(nsB, "clone")))
		Expect(r.idx.Snapshot(-1).NotWakeable).To(ContainElement(vmindex.VMIssue{VM: nn(nsA, "dynamic"), Unfixed: []string{"default"}}))
	})

	It("watches only the selected namespaces", func(ctx SpecContext) {
		nsA, nsB := newNamespace(ctx, "sel-a"), newNamespace(ctx, "sel-b")
		mA, mB := freshMAC(), freshMAC()
		createVM(ctx, newVM(nsA, "a", nil, iface{Name: "default", MAC: mA.String()}))
		createVM(ctx, newVM(nsB, "b", nil, iface{Name: "default", MAC: mB.String()}))
		r := startWatcher(allSpec(nsA))
		Expect(r.w.Namespaces()).To(Equal([]string{nsA}), "one watch, on the selected namespace only")
		Eventually(r.resolve(mA)).Should(Equal(found(nsA, "a")))
		Expect(r.resolve(mB)()).To(Equal("not_found"))
		snap := r.idx.Snapshot(-1)
		Expect(snap.InScopeVMs).To(Equal(1))
		Expect(snap.ManagedVMs).To(Equal(1))
		Expect(r.gauge("wol_managed_vms")).To(Equal(1.0))
	})

	It("LabelSelector: label changes move a VM in and out of scope", func(ctx SpecContext) {
		ns := newNamespace(ctx, "labels")
		m := freshMAC()
		createVM(ctx, newVM(ns, "vm", map[string]string{"wol": "off"}, iface{Name: "default", MAC: m.String()}))
		createVM(ctx, newVM(ns, "nomac", map[string]string{"wol": "on"}, iface{Name: "default", MAC: ""}))
		r := startWatcher(labelSpec(map[string]string{"wol": "on"}, ns))
		Expect(r.resolve(m)()).To(Equal("not_found"))
		Expect(r.idx.Snapshot(-1).NotWakeable).To(Equal([]vmindex.VMIssue{{VM: nn(ns, "nomac"), Unfixed: []string{"default"}}}))
		Expect(r.gauge("wol_vms_without_fixed_mac")).To(Equal(1.0))

		patchVM(ctx, ns, "vm", `{"metadata":{"labels":{"wol":"on"}}}`)
		Eventually(r.resolve(m)).Should(Equal(found(ns, "vm")))
		Eventually(func() float64 { return r.gauge("wol_managed_vms") }).Should(Equal(1.0))

		patchVM(ctx, ns, "vm", `{"metadata":{"labels":{"wol":null}}}`)
		Eventually(r.resolve(m)).Should(Equal("not_found"))
		patchVM(ctx, ns, "nomac", `{"metadata":{"labels":{"wol":"off"}}}`)
		Eventually(func() int { return r.idx.Snapshot(0).NotWakeableCount }).Should(BeZero())
		Eventually(func() float64 { return r.gauge("wol_managed_vms") }).Should(BeZero())
	})

	It("Explicit: a mapping wins over the spec MAC; a mapping to a missing VM is reported until the VM exists", func(ctx SpecContext) {
		ns := newNamespace(ctx, "explicit")
		mSpec, mMap, mLate := freshMAC(), freshMAC(), freshMAC()
		createVM(ctx, newVM(ns, "vm", nil, iface{Name: "default", MAC: mSpec.String()}))
		r := startWatcher(explicitSpec(mapping(mMap.String(), ns, "vm"), mapping(mLate.String(), ns, "late")))
		Expect(r.w.Namespaces()).To(Equal([]string{ns}))
		Expect(r.resolve(mMap)()).To(Equal(found(ns, "vm")))
		Expect(r.resolve(mSpec)()).To(Equal("not_found"), "the mapping wins over the VM's own MAC")
		Expect(r.resolve(mLate)()).To(Equal("mapped_vm_missing " + ns + "/late"))
		Expect(r.idx.Snapshot(-1).MissingMappings).To(Equal([]vmindex.Mapping{{MAC: mLate, VM: nn(ns, "late")}}))
		Expect(r.gauge("wol_explicit_mappings_missing_vm")).To(Equal(1.0))

		// The VM appears (without a fixed MAC: the mapping is enough).
		createVM(ctx, newVM(ns, "late", nil, iface{Name: "default", MAC: ""}))
		Eventually(r.resolve(mLate)).Should(Equal(found(ns, "late")))
		Expect(r.idx.Snapshot(0).MissingMappingCount).To(BeZero())
		Eventually(func() float64 { return r.gauge("wol_explicit_mappings_missing_vm") }).Should(BeZero())

		Expect(adminKV.KubevirtV1().VirtualMachines(ns).Delete(ctx, "late", metav1.DeleteOptions{})).To(Succeed())
		Eventually(r.resolve(mLate)).Should(Equal("mapped_vm_missing " + ns + "/late"))
	})

	It("changes mode and namespaces at run time, without a restart", func(ctx SpecContext) {
		nsA, nsB := newNamespace(ctx, "scope-a"), newNamespace(ctx, "scope-b")
		mA, mB, mX := freshMAC(), freshMAC(), freshMAC()
		createVM(ctx, newVM(nsA, "a", nil, iface{Name: "default", MAC: mA.String()}))
		createVM(ctx, newVM(nsB, "b", map[string]string{"wol": "on"}, iface{Name: "default", MAC: mB.String()}))
		r := startWatcher(allSpec(nsA))
		Expect(r.resolve(mA)()).To(Equal(found(nsA, "a")))
		Expect(r.resolve(mB)()).To(Equal("not_found"))

		By("adding a namespace: a watch is started for it")
		r.w.SetScope(mustScope(allSpec(nsA, nsB)))
		Eventually(r.w.HasSynced).Should(BeTrue())
		Expect(r.w.Namespaces()).To(ConsistOf(nsA, nsB))
		Eventually(r.resolve(mB)).Should(Equal(found(nsB, "b")))
		Expect(r.resolve(mA)()).To(Equal(found(nsA, "a")))

		By("switching to a label selector on one namespace: re-evaluated at once from the cache")
		r.w.SetScope(mustScope(labelSpec(map[string]string{"wol": "on"}, nsB)))
		Expect(r.resolve(mA)()).To(Equal("not_found"))
		Expect(r.resolve(mB)()).To(Equal(found(nsB, "b")))
		Eventually(r.w.Namespaces).Should(Equal([]string{nsB}), "the watch on the other namespace is stopped")
		Eventually(r.w.HasSynced).Should(BeTrue())

		By("switching to every namespace: one cluster-wide watch replaces the per-namespace ones")
		r.w.SetScope(mustScope(allSpec()))
		Eventually(r.w.HasSynced).Should(BeTrue())
		Expect(r.w.Namespaces()).To(Equal([]string{""}))
		Expect(r.resolve(mA)()).To(Equal(found(nsA, "a")))
		Expect(r.resolve(mB)()).To(Equal(found(nsB, "b")))

		By("a VM created while the scope changes is seen")
		createVM(ctx, newVM(nsA, "new", nil, iface{Name: "default", MAC: mX.String()}))
		r.w.SetScope(mustScope(allSpec(nsA)))
		Eventually(r.resolve(mX)).Should(Equal(found(nsA, "new")))
		Eventually(r.w.HasSynced).Should(BeTrue())
		Expect(r.w.Namespaces()).To(Equal([]string{nsA}))

		By("switching to explicit mappings")
		mY := freshMAC()
		r.w.SetScope(mustScope(explicitSpec(mapping(mY.String(), nsB, "b"))))
		Eventually(r.resolve(mY)).Should(Equal(found(nsB, "b")), "found once the new watch on nsB has listed it")
		Expect(r.resolve(mA)()).To(Equal("not_found"))
		Eventually(r.w.Namespaces).Should(Equal([]string{nsB}))
	})
})
