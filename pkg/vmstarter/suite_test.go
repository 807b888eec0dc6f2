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
	"fmt"
	"os"
	"path/filepath"
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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
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
	cluster *kwokcluster.Cluster
	kv      *kubevirtcp.ControlPlane
	admin   *rest.Config
	adminKV kubevirt.Interface
	adminCS kubernetes.Interface
	// handlerKV plays virt-handler's part, which no process does here: it
	// reports instances Running, Paused, Succeeded or Failed, as the
	// kubevirt-handler ServiceAccount (the only one KubeVirt lets write an
	// instance's status).
	handlerKV kubevirt.Interface
	// listenerCfg acts as the listener's ServiceAccount, which holds only
	// the rules generated from the +kubebuilder:rbac markers (process and
	// VM rules); directCfg also holds the direct-patch rules
	// (spec.directPatchFallback).
	listenerCfg, directCfg *rest.Config
	recorder               record.EventRecorder
	suiteCtx               context.Context
	nameSeq                atomic.Int64
)

func TestVMStarter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VM starter (real KubeVirt virt-api and virt-controller on a kwok cluster)")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var cancel context.CancelFunc
	suiteCtx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)

	root := filepath.Join(testenv.RepoRoot(), ".kwok")
	Expect(os.MkdirAll(root, 0o755)).To(Succeed())
	dir, err := os.MkdirTemp(root, "vmstarter-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if !CurrentSpecReport().Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	// WaitAsReceiver is refused by KubeVirt's webhook unless this gate is on.
	kv, err = kubevirtcp.New(dir, kubevirtcp.Options{FeatureGates: []string{"DecentralizedLiveMigration"}})
	Expect(err).NotTo(HaveOccurred())
	By("starting a kwok cluster with one node KubeVirt schedules on")
	cluster, err = kwokcluster.Create(ctx, testenv.BinDir(), filepath.Join(dir, "kwok"), "wol-"+filepath.Base(dir),
		kwokcluster.Options{Nodes: 1, KubeVirtNodes: true, APIServerArgs: kv.APIServerArgs()})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(cluster.Delete()).To(Succeed()) })
	admin, err = cluster.RestConfig()
	Expect(err).NotTo(HaveOccurred())

	By("installing KubeVirt " + kubevirtcp.Version() + " and starting virt-api and virt-controller")
	Expect(kv.Start(ctx, admin)).To(Succeed())
	DeferCleanup(kv.Stop)

	adminKV, err = kubevirt.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	adminCS, err = kubernetes.NewForConfig(admin)
	Expect(err).NotTo(HaveOccurred())
	handlerKV, err = kubevirt.NewForConfig(kubevirtcp.ActAsHandler(admin))
	Expect(err).NotTo(HaveOccurred())
	_, err = adminCS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vmNamespace}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())

	listenerCfg, err = rbac.RunAs(ctx, admin, rbac.ListenerRole(false), saNamespace, saName)
	Expect(err).NotTo(HaveOccurred())
	directCfg, err = rbac.RunAs(ctx, admin, rbac.ListenerRole(true), saNamespace, "listener-direct")
	Expect(err).NotTo(HaveOccurred())

	// Events are written by the listener's ServiceAccount too.
	listenerCS, err := kubernetes.NewForConfig(listenerCfg)
	Expect(err).NotTo(HaveOccurred())
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: listenerCS.CoreV1().Events("")})
	DeferCleanup(broadcaster.Shutdown)
	recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubevirt-wol-listener", Host: nodeName})
}, NodeTimeout(5*time.Minute))

// On failure, the last lines of virt-api's and virt-controller's logs.
var _ = ReportAfterEach(func(report SpecReport) {
	if report.Failed() && kv != nil {
		AddReportEntry("KubeVirt logs", kv.Logs(80))
	}
})

// testLog sends the starter's logs to the Ginkgo writer (shown on failure or
// with -v).
func testLog() logr.Logger {
	return funcr.New(func(prefix, args string) { GinkgoWriter.Println(prefix, args) }, funcr.Options{Verbosity: 1})
}

// newStarter returns a starter acting as cfg (listenerCfg or directCfg).
func newStarter(cfg *rest.Config, api vmstarter.APIMode, reg prometheus.Registerer, mutate ...func(*vmstarter.Options)) *vmstarter.Starter {
	client, err := kubevirt.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	opts := vmstarter.Options{
		NodeName:       nodeName,
		Events:         recorder,
		Registerer:     reg,
		Log:            testLog(),
		API:            api,
		InitialBackoff: 20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := vmstarter.New(client.KubevirtV1(), opts)
	Expect(err).NotTo(HaveOccurred())
	return s
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(prefix), nameSeq.Add(1))
}

// createVM creates vm and deletes it after the spec.
func createVM(ctx context.Context, vm *kubevirtv1.VirtualMachine) {
	GinkgoHelper()
	vms := adminKV.KubevirtV1().VirtualMachines(vm.Namespace)
	created, err := vms.Create(ctx, vm, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		releasePods(ctx, created.Name)
		Expect(client404(vms.Delete(ctx, created.Name, metav1.DeleteOptions{}))).To(Succeed())
	})
}

func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// eventReasons returns the reasons of the events recorded on VM name.
func eventReasons(ctx context.Context, name string) []string {
	list, err := adminCS.CoreV1().Events(vmNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	Expect(err).NotTo(HaveOccurred())
	out := make([]string, 0, len(list.Items))
	for _, e := range list.Items {
		out = append(out, e.Reason)
	}
	return out
}
