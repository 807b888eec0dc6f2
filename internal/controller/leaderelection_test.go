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

package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// Two operator replicas, built by NewOperator as cmd/manager builds them,
// against one API server, as the operator's ServiceAccount holding only
// config/rbac's ClusterRole and leader election Role. The suite's own
// operator (no leader election) is stopped meanwhile, so that only the
// replicas can reconcile.
var _ = Describe("Leader election", Ordered, func() {
	ctx := context.Background()
	const (
		lease = 2 * time.Second
		renew = 1500 * time.Millisecond
		retry = 250 * time.Millisecond
	)
	le := OperatorOptions{LeaderElection: true, LeaseDuration: lease, RenewDeadline: renew, RetryPeriod: retry}

	BeforeAll(func() {
		stopMgr()
		DeferCleanup(func() { _, stopMgr = startOperator(OperatorOptions{}, writes.Wrap) })
	})

	holder := func() string {
		l := &coordinationv1.Lease{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: LeaderElectionID}, l); err != nil {
			return ""
		}
		return ptr.Deref(l.Spec.HolderIdentity, "")
	}
	deployed := func(name string) func() error {
		return func() error { return admin.Get(ctx, key("wol-listener-"+name), &appsv1.Deployment{}) }
	}
	onPorts := func(udp, metrics int32) func(*wolv1beta1.WolConfig) {
		return func(wc *wolv1beta1.WolConfig) {
			wc.Spec.WolPorts = []int32{udp}
			wc.Spec.Listener.MetricsPort = ptr.To(metrics)
		}
	}

	It("elects one replica, and the other takes over and keeps reconciling when the leader stops", func() {
		first, stopFirst := startOperator(le, nil)
		Eventually(first.Elected(), 20*time.Second).Should(BeClosed(), "the first replica never became leader")
		leader := holder()
		Expect(leader).NotTo(BeEmpty())

		second, stopSecond := startOperator(le, nil)
		DeferCleanup(stopSecond)

		Expect(admin.Create(ctx, newWolConfig("le-one", onPorts(41001, 41002)))).To(Succeed())
		Eventually(deployed("le-one"), timeout, poll).Should(Succeed(), "the leader does not reconcile")
		Consistently(second.Elected(), 3*lease, retry).ShouldNot(BeClosed(), "two leaders at once")
		Expect(holder()).To(Equal(leader))

		By("stopping the leader without releasing the lease, as a crash would")
		stopped := time.Now()
		stopFirst()
		Eventually(second.Elected(), 10*lease, retry).Should(BeClosed(), "the second replica never took over")
		AddReportEntry("leader election takeover after the leader stopped", time.Since(stopped).Round(10*time.Millisecond).String())
		Expect(holder()).NotTo(Or(BeEmpty(), Equal(leader)))

		By("the new leader reconciling a WolConfig created after the takeover")
		Expect(admin.Create(ctx, newWolConfig("le-two", onPorts(41003, 41004)))).To(Succeed())
		Eventually(deployed("le-two"), timeout, poll).Should(Succeed(), "the new leader does not reconcile")

		By("and repairing drift in what the old leader created")
		Expect(admin.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
			Namespace: operatorNamespace, Name: "wol-listener-le-one"}})).To(Succeed())
		Eventually(deployed("le-one"), timeout, poll).Should(Succeed())

		for _, name := range []string{"le-one", "le-two"} {
			Expect(admin.Delete(ctx, getWolConfig(ctx, name))).To(Succeed())
		}
	})
})
