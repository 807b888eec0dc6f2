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

// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest) with the CRDs the project's tests need. The binaries and the
// third-party CRDs are built by `make envtest-assets` into bin/; nothing is
// downloaded at test time.
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options selects the optional APIs a test environment serves.
type Options struct {
	// OpenShift installs the security.openshift.io SecurityContextConstraints CRD.
	OpenShift bool
	// Monitoring installs the monitoring.coreos.com ServiceMonitor and
	// PrometheusRule CRDs.
	Monitoring bool
	// WithoutKubeVirt leaves out KubeVirt's CRDs (as KubeVirt's install
	// strategy generates them, bin/kubevirt/crds).
	WithoutKubeVirt bool
	// APIServerArgs are extra kube-apiserver flags, "--name" -> values.
	APIServerArgs map[string][]string
}

// RepoRoot is the root of the repository the tests run from.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testenv: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BinDir is the folder the Makefile builds tools and test assets into.
func BinDir() string { return filepath.Join(RepoRoot(), "bin") }

// MissingBinaries lists the names that are not files in bin.
func MissingBinaries(bin string, names []string) []string {
	var missing []string
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(bin, n)); err != nil {
			missing = append(missing, n)
		}
	}
	return missing
}

// KubeVirtCRDDir holds KubeVirt's CRDs, one JSON file each, as KubeVirt's
// own install strategy generates them (`make kubevirt`).
func KubeVirtCRDDir() string { return filepath.Join(BinDir(), "kubevirt", "crds") }

// CRDPaths returns the CRD files and folders for opts, or an error that says
// how to build what is missing.
func CRDPaths(opts Options) ([]string, error) {
	root := RepoRoot()
	crds := filepath.Join(BinDir(), "crds")
	paths := []string{filepath.Join(root, "config", "crd", "bases")}
	if !opts.WithoutKubeVirt {
		paths = append(paths, KubeVirtCRDDir())
	}
	if opts.OpenShift {
		paths = append(paths, filepath.Join(crds, "openshift", "securitycontextconstraints.yaml"))
	}
	if opts.Monitoring {
		paths = append(paths, filepath.Join(crds, "monitoring", "servicemonitors.yaml"),
			filepath.Join(crds, "monitoring", "prometheusrules.yaml"))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("test CRD %s is missing (run `make envtest-assets`): %w", p, err)
		}
	}
	return paths, nil
}

// New returns an envtest environment for opts that uses the kube-apiserver
// and etcd in bin/. Call Start on it, and Stop when done.
func New(opts Options) (*envtest.Environment, error) {
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(BinDir(), b)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s (run `make envtest-assets`): %w", b, BinDir(), err)
		}
	}
	paths, err := CRDPaths(opts)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: BinDir(),
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	for name, values := range opts.APIServerArgs {
		args.Set(name, values...)
	}
	return env, nil
}

// Start starts an environment for opts and returns it with an admin
// rest.Config.
func Start(opts Options) (*envtest.Environment, *rest.Config, error) {
	env, err := New(opts)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	return env, cfg, nil
}

// Impersonate returns a copy of cfg that acts as the ServiceAccount
// namespace/name, so RBAC is enforced as in a pod running under it.
func Impersonate(cfg *rest.Config, namespace, name string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return c
}

// ServiceAccountKubeconfig writes a kubeconfig for the ServiceAccount
// namespace/name of the API server admin reaches (a token from the
// TokenRequest API, valid for a day) to path, so a local process acts with
// exactly that account's identity and RBAC, as in a pod.
func ServiceAccountKubeconfig(ctx context.Context, admin *rest.Config, namespace, name, path string) error {
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	ca := admin.CAData
	if len(ca) == 0 && admin.CAFile != "" {
		if ca, err = os.ReadFile(admin.CAFile); err != nil {
			return err
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = "default"
	return clientcmd.WriteToFile(*cfg, path)
}
