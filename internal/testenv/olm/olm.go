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

// Package olm runs Operator Lifecycle Manager v0 (its olm and catalog
// operators, built by `make olm` into bin/olm/) as local processes against a
// test cluster, with a file-based catalog served by `opm serve` on a
// loopback port: a CatalogSource with spec.address needs no registry pod,
// and a catalog whose bundles carry their manifests inline (no image) needs
// no unpack Job. Everything else is OLM's own work: InstallPlans, CSVs,
// Deployments, upgrades.
package olm

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

const (
	// Namespace is OLM's own namespace, where the catalog source lives
	// (OLM's global catalog namespace).
	Namespace = "olm"
	// CatalogSourceName is the CatalogSource ServeCatalog points at.
	CatalogSourceName = "kubevirt-wol-test"
)

// OLM's API group and its versions.
const (
	group    = "operators.coreos.com"
	v1alpha1 = "v1alpha1"
)

// Group, version and resources of OLM's API.
var (
	CatalogSources = schema.GroupVersionResource{Group: group, Version: v1alpha1, Resource: "catalogsources"}
	Subscriptions  = schema.GroupVersionResource{Group: group, Version: v1alpha1, Resource: "subscriptions"}
	InstallPlans   = schema.GroupVersionResource{Group: group, Version: v1alpha1, Resource: "installplans"}
	CSVs           = schema.GroupVersionResource{Group: group, Version: v1alpha1, Resource: "clusterserviceversions"}
	OperatorGroups = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "operatorgroups"}
	OLMConfigs     = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "olmconfigs"}
)

// Dir is where `make olm` puts the binaries and links the CRDs.
func Dir() string { return filepath.Join(testenv.BinDir(), "olm") }

// Version is OLM's version, as pinned in hack/tools/olm/go.mod.
func Version() string {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "hack", "tools", "olm", "go.mod"))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "github.com/operator-framework/operator-lifecycle-manager" {
			return f[1]
		}
	}
	return "unknown"
}

// OLM is a running OLM.
type OLM struct {
	dir, kubeconfig string
	admin           *rest.Config
	// Dynamic is an admin client for OLM's objects.
	Dynamic dynamic.Interface
	// Olm and Catalog are the two operators' processes; Registry is
	// `opm serve`, once ServeCatalog has run.
	Olm, Catalog, Registry *proc.Process
	port                   int
}

// Start installs OLM's CRDs, its namespace and the cluster OLMConfig, then
// starts the catalog and olm operators with the admin kubeconfig. Logs go to
// dir.
func Start(ctx context.Context, admin *rest.Config, kubeconfig, dir string) (*OLM, error) {
	for _, b := range []string{"olm", "catalog"} {
		if _, err := os.Stat(filepath.Join(Dir(), b)); err != nil {
			return nil, fmt.Errorf("bin/olm/%s is missing: run `make olm`", b)
		}
	}
	if _, err := envtest.InstallCRDs(admin, envtest.CRDInstallOptions{Paths: []string{filepath.Join(Dir(), "crds")}, ErrorIfPathMissing: true}); err != nil {
		return nil, fmt.Errorf("installing OLM's CRDs: %w", err)
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	o := &OLM{dir: dir, kubeconfig: kubeconfig, admin: admin}
	if o.Dynamic, err = dynamic.NewForConfig(admin); err != nil {
		return nil, err
	}
	cfg := object("operators.coreos.com/v1", "OLMConfig", "", "cluster", nil)
	if _, err := o.Dynamic.Resource(OLMConfigs).Create(ctx, cfg, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	// Both operators hard-code their metrics on :8080; the second one to
	// start logs "address already in use" and carries on.
	// No pod it would start runs an image here: the registry is `opm
	// serve` and bundles are inline, so the images are placeholders.
	const noImage = "unused.invalid/none"
	o.Catalog, err = proc.Start(filepath.Join(Dir(), "catalog"), []string{
		"--kubeconfig", kubeconfig, "--namespace", Namespace, "--writeStatusName", "", "--set-workload-user-id=false",
		"--configmapServerImage", noImage, "--opmImage", noImage, "--util-image", noImage,
	}, nil, filepath.Join(dir, "olm-catalog.log"), false)
	if err != nil {
		return nil, err
	}
	o.Olm, err = proc.Start(filepath.Join(Dir(), "olm"), []string{
		"--namespace", Namespace, "--writeStatusName", "", "--writePackageServerStatusName", "",
	}, []string{"KUBECONFIG=" + kubeconfig, "OPERATOR_NAMESPACE=" + Namespace, "OPERATOR_NAME=olm-operator"},
		filepath.Join(dir, "olm-olm.log"), false)
	if err != nil {
		o.Stop()
		return nil, err
	}
	return o, nil
}

// ServeCatalog (re)starts `opm serve` on catalogDir, always on the same
// port, and creates the CatalogSource pointing at it the first time. OLM
// notices a restarted registry by itself, as it notices a new catalog
// image's pod.
func (o *OLM) ServeCatalog(ctx context.Context, catalogDir string) error {
	if o.Registry != nil {
		o.Registry.Stop()
	}
	if o.port == 0 {
		port, err := freePort()
		if err != nil {
			return err
		}
		o.port = port
	}
	pprof, err := freePort()
	if err != nil {
		return err
	}
	o.Registry, err = proc.Start(filepath.Join(testenv.BinDir(), "opm"), []string{
		"serve", catalogDir, "-p", strconv.Itoa(o.port), "--pprof-addr", "127.0.0.1:" + strconv.Itoa(pprof),
	}, nil, filepath.Join(o.dir, "opm-serve.log"), false)
	if err != nil {
		return err
	}
	cs := object("operators.coreos.com/v1alpha1", "CatalogSource", Namespace, CatalogSourceName, map[string]any{
		"sourceType":  "grpc",
		"address":     "127.0.0.1:" + strconv.Itoa(o.port),
		"displayName": "kubevirt-wol test catalog",
		"publisher":   "kubevirt-wol tests",
	})
	_, err = o.Dynamic.Resource(CatalogSources).Namespace(Namespace).Create(ctx, cs, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Stop stops opm serve and both operators.
func (o *OLM) Stop() {
	for _, p := range []*proc.Process{o.Registry, o.Olm, o.Catalog} {
		if p != nil {
			p.Stop()
		}
	}
}

// Logs returns the last lines of each process's output.
func (o *OLM) Logs(lines int) string {
	var out string
	for name, p := range map[string]*proc.Process{"olm": o.Olm, "catalog": o.Catalog, "opm serve": o.Registry} {
		if p != nil {
			out += fmt.Sprintf("===== %s: %s\n%s\n", name, p, tail(p.Output(), lines))
		}
	}
	return out
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// object builds an unstructured object.
func object(apiVersion, kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(namespace)
	u.SetName(name)
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
