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

package controllers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
)

const (
	operatorNamespace = "kubevirt-wol-system"
	operatorSA        = "kubevirt-wol-controller-manager"
)

var (
	env      *envtest.Environment
	admin    client.Client
	scheme   = runtime.NewScheme()
	writes   writeCounter
	stopMgr  context.CancelFunc
	mgrDone  sync.WaitGroup
	adminCfg *rest.Config
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "WolConfig controller (real kube-apiserver, operator RBAC)")
}

// writeCounter counts the API requests of the operator that can change
// something (every verb but GET), by wrapping its HTTP transport.
type writeCounter struct {
	n   atomic.Int64
	log sync.Map // "VERB path" -> count, for failure messages
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			w.n.Add(1)
			key := req.Method + " " + req.URL.Path
			v, _ := w.log.LoadOrStore(key, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		return rt.RoundTrip(req)
	})
}

func (w *writeCounter) String() string {
	s := ""
	w.log.Range(func(k, v any) bool {
		s += fmt.Sprintf("%s: %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	return s
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var _ = BeforeSuite(func() {
	logf := zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true))
	ctrl.SetLogger(logf)
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, kubevirtv1.AddToScheme, securityv1.AddToScheme,
		monitoringv1.AddToScheme, wolv1beta1.AddToScheme,
	} {
		Expect(add(scheme)).To(Succeed())
	}

	var err error
	env, adminCfg, err = testenv.Start(testenv.Options{})
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(adminCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// The operator runs as its ServiceAccount, bound to exactly the
	// ClusterRole generated from the code's markers (config/rbac/role.yaml),
	// so a missing permission fails here as it would in a cluster.
	ctx := context.Background()
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: operatorSA, Namespace: operatorNamespace}})).To(Succeed())
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.UnmarshalStrict(data, role)).To(Succeed())
	Expect(admin.Create(ctx, role)).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "manager-rolebinding"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: operatorSA, Namespace: operatorNamespace}},
	})).To(Succeed())

	startOperator()
})

// startOperator runs the operator's manager as its ServiceAccount.
func startOperator() {
	cfg := testenv.Impersonate(adminCfg, operatorNamespace, operatorSA)
	cfg.WrapTransport = writes.wrap
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  CacheOptions(operatorNamespace),
	})
	Expect(err).NotTo(HaveOccurred())
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	info := NewClusterInfo(disc, 250*time.Millisecond, ctrl.Log.WithName("discovery"))
	r := &WolConfigReconciler{
		Client:    mgr.GetClient(),
		Cache:     mgr.GetCache(),
		Namespace: operatorNamespace,
		Image:     "quay.io/kubevirt-wol/kubevirt-wol:test",
		Info:      info,
		Recorder:  mgr.GetEventRecorder("kubevirt-wol-operator"),
		Debounce:  100 * time.Millisecond,
	}
	Expect(r.SetupWithManager(mgr)).To(Succeed())
	Expect(info.Refresh()).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	stopMgr = cancel
	mgrDone.Add(1)
	go func() {
		defer GinkgoRecover()
		defer mgrDone.Done()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
}

var _ = AfterSuite(func() {
	if stopMgr != nil {
		stopMgr()
		mgrDone.Wait()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
