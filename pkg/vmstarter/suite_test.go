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
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtapi"
	"github.com/gpillon/kubevirt-wol/internal/testenv/rbac"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

const (
	vmNamespace = "vms"
	saNamespace = "kubevirt-wol"
	saName      = "listener"
	nodeName    = "node-1"
)

var (
	env      *envtest.Environment
	admin    *rest.Config
	adminKV  kubevirt.Interface
	adminDyn dynamic.Interface
	adminCS  kubernetes.Interface
	// listenerKV acts as the listener's ServiceAccount, which holds only the
	// role generated from the +kubebuilder:rbac markers.
	listenerKV   kubevirt.Interface
	listenerCfg  *rest.Config
	listenerRole *rbacv1.ClusterRole
	recorder     record.EventRecorder
	virtAPI      *kubevirtapi.VirtAPI
	suiteCtx     context.Context
	vmGVR        = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	nameSeq      atomic.Int64
)

func TestVMStarter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VM starter (real kube-apiserver, KubeVirt CRDs and an aggregated virt-api double)")
}

var _ = BeforeSuite(func() {
	var cancel context.CancelFunc
	suiteCtx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)

	dir, err := os.MkdirTemp("", "vmstarter-pki-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	virtAPI, err = kubevirtapi.New(dir)
	Expect(err).NotTo(HaveOccurred())

	env, admin, err = testenv.Start(testenv.Options{APIServerArgs: virtAPI.APIServerArgs()})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)

	Expect(virtAPI.Start(suiteCtx, admin)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(virtAPI.Stop(ctx)).To(Succeed()) })

	adminKV, err = kubevirt.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	adminDyn, err = dynamic.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	adminCS, err = kubernetes.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	_, err = adminCS.CoreV1().Namespaces().Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vmNamespace}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())

	listenerRole = rbac.ListenerRole()
	listenerCfg, err = rbac.RunAs(suiteCtx, admin, listenerRole, saNamespace, saName)
	Expect(err).NotTo(HaveOccurred())
	listenerKV, err = kubevirt.NewForConfig(listenerCfg)
	Expect(err).NotTo(HaveOccurred())

	// Events are written by the listener's ServiceAccount too.
	listenerCS, err := kubernetes.NewForConfig(listenerCfg)
	Expect(err).NotTo(HaveOccurred())
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: listenerCS.CoreV1().Events("")})
	DeferCleanup(broadcaster.Shutdown)
	recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubevirt-wol-listener", Host: nodeName})
})

// testLog sends the starter's logs to the Ginkgo writer (shown on failure or
// with -v).
func testLog() logr.Logger {
	return funcr.New(func(prefix, args string) { fmt.Fprintln(GinkgoWriter, prefix, args) }, funcr.Options{Verbosity: 1})
}

// newStarter returns a starter acting as the listener's ServiceAccount.
func newStarter(api vmstarter.APIMode, reg prometheus.Registerer, mutate ...func(*vmstarter.Options)) *vmstarter.Starter {
	opts := vmstarter.Options{
		NodeName:       nodeName,
		Events:         recorder,
		Registerer:     reg,
		Log:            testLog(),
		API:            api,
		StopTimeout:    time.Second,
		InitialBackoff: 20 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := vmstarter.New(listenerKV.KubevirtV1(), opts)
	Expect(err).NotTo(HaveOccurred())
	return s
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(prefix), nameSeq.Add(1))
}

// createVM creates a VM with strategy s, and gives it the status
// virt-controller would (printableStatus Stopped) unless bareStatus.
func createVM(ctx context.Context, name string, s strategy, bareStatus bool) *kubevirtv1.VirtualMachine {
	vm := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: vmNamespace, Name: name, Labels: map[string]string{"app": "wol-test"}},
		Spec: kubevirtv1.VirtualMachineSpec{
			Template: &kubevirtv1.VirtualMachineInstanceTemplateSpec{
				Spec: kubevirtv1.VirtualMachineInstanceSpec{Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{
					Interfaces: []kubevirtv1.Interface{{
						Name:                   "default",
						MacAddress:             "52:54:00:00:00:01",
						InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}},
					}},
				}}},
			},
		},
	}
	s.apply(vm)
	vms := adminKV.KubevirtV1().VirtualMachines(vmNamespace)
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		err := vms.Delete(ctx, name, metav1.DeleteOptions{})
		Expect(client404(err)).To(Succeed())
	})
	if !bareStatus {
		created.Status.PrintableStatus = kubevirtv1.VirtualMachineStatusStopped
		created, err = vms.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
	}
	return created
}

// holdFinalizer keeps a deleted instance around: it is "stopping" until the
// test removes the finalizer.
const holdFinalizer = "test.kubevirt-wol.io/hold"

// createVMI creates the instance of VM name in the given state (see
// pureVMI) and returns its UID.
func createVMI(ctx context.Context, name, state string) types.UID {
	want := pureVMI(state)
	vmi := &kubevirtv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: vmNamespace, Name: name},
		Spec:       kubevirtv1.VirtualMachineInstanceSpec{Domain: kubevirtv1.DomainSpec{Devices: kubevirtv1.Devices{}}},
	}
	if state == stStopping {
		vmi.Finalizers = []string{holdFinalizer}
	}
	vmis := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace)
	created, err := vmis.Create(ctx, vmi, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) { releaseVMI(ctx, name) })
	status, err := json.Marshal(map[string]any{"status": want.Status})
	Expect(err).NotTo(HaveOccurred())
	_, err = vmis.Patch(ctx, name, types.MergePatchType, status, metav1.PatchOptions{}, "status")
	Expect(err).NotTo(HaveOccurred())
	if state == stStopping {
		Expect(vmis.Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
	}
	return created.UID
}

// releaseVMI lets a held instance go and waits until it is gone.
func releaseVMI(ctx context.Context, name string) {
	vmis := adminKV.KubevirtV1().VirtualMachineInstances(vmNamespace)
	_, err := vmis.Patch(ctx, name, types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(client404(vmis.Delete(ctx, name, metav1.DeleteOptions{}))).To(Succeed())
	Eventually(func() bool {
		_, err := vmis.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}).Should(BeTrue())
}

func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// vmState is the VM as the API returns it, minus the fields every write
// changes (resourceVersion, generation, managedFields): what a diff of
// "before" and "after" must account for exactly.
func vmState(ctx context.Context, name string) map[string]any {
	u, err := adminDyn.Resource(vmGVR).Namespace(vmNamespace).Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred())
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(u.Object, "metadata", "generation")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	return u.Object
}

// eventReasons returns the reasons of the events recorded on VM name.
func eventReasons(ctx context.Context, name string) []string {
	list, err := adminCS.CoreV1().Events(vmNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Reason)
	}
	return out
}

// counter reads one series of a counter vector from reg.
func counter(reg *prometheus.Registry, name, label, value string) float64 {
	mfs, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
