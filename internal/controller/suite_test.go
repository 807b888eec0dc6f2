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
	"net/http"
	"os"
	"path/filepath"
	"sync"
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
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
)

const (
	operatorNamespace = "kubevirt-wol-system"
	operatorSA        = "kubevirt-wol-controller-manager"
)

var (
	env    *envtest.Environment
	admin  client.Client
	scheme = runtime.NewScheme()
	// writes records the operator's requests (see apirecorder).
	writes   = apirecorder.New()
	stopMgr  context.CancelFunc
	adminCfg *rest.Config
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "WolConfig controller (real kube-apiserver, operator RBAC)")
}

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
	// And to the leader election Role of config/rbac, in its namespace.
	data, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "leader_election_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	leRole := &rbacv1.Role{}
	Expect(yaml.UnmarshalStrict(data, leRole)).To(Succeed())
	leRole.Namespace = operatorNamespace
	Expect(admin.Create(ctx, leRole)).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "leader-election-rolebinding", Namespace: operatorNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: leRole.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: operatorSA, Namespace: operatorNamespace}},
	})).To(Succeed())

	_, stopMgr = startOperator(OperatorOptions{}, writes.Wrap)
})

// operatorConfig acts as the operator's ServiceAccount.
func operatorConfig() *rest.Config {
	return testenv.Impersonate(adminCfg, operatorNamespace, operatorSA)
}

// startOperator runs the operator's manager, built by NewOperator as
// cmd/manager builds it, as its ServiceAccount, and returns the function
// that stops it (and waits until it has) with it. o is completed with the test's
// namespace, image and short intervals; wrap, if not nil, wraps its HTTP
// transport.
func startOperator(o OperatorOptions, wrap func(http.RoundTripper) http.RoundTripper) (ctrl.Manager, context.CancelFunc) {
	GinkgoHelper()
	cfg := operatorConfig()
	cfg.WrapTransport = wrap
	o.Namespace, o.ListenerImage = operatorNamespace, "quay.io/kubevirt-wol/kubevirt-wol:test"
	o.MetricsAddr, o.ProbeAddr = "0", "0"
	o.DiscoveryInterval, o.Debounce, o.SkipNameValidation = 250*time.Millisecond, 100*time.Millisecond, true
	mgr, err := NewOperator(cfg, o)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	done.Go(func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	})
	return mgr, func() {
		cancel()
		done.Wait()
	}
}

var _ = AfterSuite(func() {
	if stopMgr != nil {
		stopMgr()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
