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
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"kubevirt.io/client-go/kubevirt"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/rbac"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

var (
	env      *envtest.Environment
	admin    *rest.Config
	adminKV  kubevirt.Interface
	adminCS  kubernetes.Interface
	suiteCtx context.Context
	// listenerKV acts as the listener's ServiceAccount, which holds only the
	// role generated from the +kubebuilder:rbac markers.
	listenerKV kubevirt.Interface
	seq        atomic.Int64
)

func TestVMIndex(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VM index (informers on a real kube-apiserver with the KubeVirt CRDs)")
}

var _ = BeforeSuite(func() {
	var cancel context.CancelFunc
	suiteCtx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	var err error
	env, admin, err = testenv.Start(testenv.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
	adminKV, err = kubevirt.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	adminCS, err = kubernetes.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())

	cfg, err := rbac.RunAs(suiteCtx, admin, rbac.ListenerRole(false), "kubevirt-wol", "listener")
	Expect(err).NotTo(HaveOccurred())
	listenerKV, err = kubevirt.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
})

func testLog() logr.Logger {
	return funcr.New(func(prefix, args string) { GinkgoWriter.Println(prefix, args) }, funcr.Options{Verbosity: 1})
}

// newNamespace creates a namespace with a unique name.
func newNamespace(ctx context.Context, prefix string) string {
	name := fmt.Sprintf("%s-%d", prefix, seq.Add(1))
	_, err := adminCS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return name
}

// freshMAC returns a MAC address no other test uses.
func freshMAC() wol.MAC {
	n := seq.Add(1)
	return wol.MAC{0x52, 0x54, 0x01, byte(n >> 16), byte(n >> 8), byte(n)}
}
