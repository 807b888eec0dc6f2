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

// Package promstack runs real monitoring against a kwok cluster for the e2e
// suite: the Prometheus Operator (`make prometheus-operator`, built from its
// Go module) as a local process, and for a Prometheus resource a real
// Prometheus server (`make prometheus`) run as the container of the pod the
// operator's StatefulSet got, the way the stack runs the operator and the
// listeners:
//
//   - its arguments are the pod's prometheus container's;
//   - its volumes are laid out in a folder as the kubelet would mount them:
//     the Secrets, ConfigMaps and projected Secrets the operator wrote (TLS
//     assets, web configuration, the rule-file ConfigMaps), empty folders for
//     the emptyDirs, and config_out/prometheus.env.yaml written from the
//     configuration Secret the way the config-reloader sidecar writes it
//     (gunzipped, $(POD_NAME) and $(SHARD) expanded);
//   - the only change to the arguments and to the generated configuration is
//     that every path under one of those mounts becomes the same path under
//     the folder (nothing else is touched: the scrape configuration, its
//     Kubernetes service discovery and relabelings are the operator's);
//   - it runs as the pod's ServiceAccount: a real TokenRequest token and the
//     cluster's CA sit at the in-pod path
//     /var/run/secrets/kubernetes.io/serviceaccount, bind-mounted in
//     Prometheus's own mount namespace, because client-go's in-cluster
//     configuration (which Kubernetes service discovery uses when the
//     generated configuration names no API server, as the operator's never
//     does) reads them from there; the generated scrape configuration's
//     bearer_token_file is that same in-pod path;
//   - it runs in a netlab host's network namespace, on the LAN the listeners
//     serve on, and reaches the API server the way a pod does, through
//     KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT: here a TCP relay
//     listening on that namespace's loopback (the stand-in for the
//     kubernetes Service) forwards to the kwok API server.
//
// Prometheus's HTTP API is then read through the namespace (API, Query,
// Targets, Rules), and Sync reloads the operator's latest configuration and
// rule files, as the config-reloader would.
package promstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

// Binaries are the programs of bin/ this package runs.
var Binaries = []string{"prometheus-operator", "prometheus"}

// CRDDir holds the Prometheus Operator's CRDs (`make test-crds`).
func CRDDir() string { return filepath.Join(testenv.BinDir(), "crds", "prometheus-operator") }

// InstallCRDs applies every CRD of the Prometheus Operator (CRDDir) to the
// cluster of admin.
func InstallCRDs(ctx context.Context, admin *rest.Config, fieldOwner string) error {
	files, err := filepath.Glob(filepath.Join(CRDDir(), "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRDs in %s (run `make test-crds`)", CRDDir())
	}
	// resources are the served group/versions' resources the CRDs add.
	resources := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := kwokcluster.Apply(ctx, admin, data, fieldOwner); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Served {
				gv := crd.Spec.Group + "/" + v.Name
				resources[gv] = append(resources[gv], crd.Spec.Names.Plural)
			}
		}
	}
	// The Prometheus Operator looks its resources up in discovery once, as
	// it starts, and leaves out what is not there yet: wait until the API
	// server serves them all.
	disc, err := discovery.NewDiscoveryClientForConfig(admin)
	if err != nil {
		return err
	}
	var missing []string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		missing = missing[:0]
		for gv, plurals := range resources {
			list, err := disc.ServerResourcesForGroupVersion(gv)
			for _, plural := range plurals {
				if err != nil || !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == plural }) {
					missing = append(missing, gv+" "+plural)
				}
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("the Prometheus Operator's CRDs not served (%v): %w", missing, err)
	}
	return nil
}

// StartOperator runs bin/prometheus-operator against the cluster of
// kubeconfig (through KUBECONFIG, as the operator reads it), its web server
// on a free loopback port (its default, :8080, is any tool's), logging to
// logPath. The caller stops it.
func StartOperator(kubeconfig, logPath string) (*proc.Process, error) {
	return proc.Start(filepath.Join(testenv.BinDir(), "prometheus-operator"),
		[]string{"--web.listen-address=127.0.0.1:0", "--log-level=debug"},
		[]string{"KUBECONFIG=" + kubeconfig}, logPath, false)
}

// Version is the version bin/prometheus reports (e.g. "v3.9.1"), for a
// Prometheus resource's spec.version: the operator generates the
// configuration and arguments for that version.
func Version() (string, error) {
	out, err := exec.Command(filepath.Join(testenv.BinDir(), "prometheus"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("bin/prometheus --version: %w", err)
	}
	m := regexp.MustCompile(`^prometheus, version (\S+)`).FindSubmatch(out)
	if m == nil || string(m[1]) == "" {
		return "", fmt.Errorf("bin/prometheus --version says no version (built without `make prometheus`?): %s", out)
	}
	return "v" + string(m[1]), nil
}
