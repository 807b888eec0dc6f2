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

// Package kwokcluster runs a local Kubernetes cluster for the e2e suite and
// `make demo`: real etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built in bin/, with kwok simulating the nodes and the pods'
// lifecycle (no container runs). It also applies manifests, hands out
// ServiceAccount kubeconfigs and runs the project's binaries as local
// processes with the arguments their pod spec gives them.
package kwokcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// Binaries the cluster is made of, looked up in the bin folder.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwokctl", "kubectl"}

// Cluster is a kwok cluster with the binary runtime.
type Cluster struct {
	// Name of the cluster.
	Name string
	// Workdir holds kwok's state (KWOK_WORKDIR).
	Workdir string
	// Kubeconfig is the admin kubeconfig file.
	Kubeconfig string
	// Bin is the folder with the binaries.
	Bin string
}

// Missing lists the binaries of Binaries that bin lacks.
func Missing(bin string) []string {
	var missing []string
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, b)
		}
	}
	return missing
}

// Create starts a cluster named name with nodes simulated nodes. kwok's
// state and the admin kubeconfig go under workdir.
func Create(ctx context.Context, bin, workdir, name string, nodes int) (*Cluster, error) {
	if m := Missing(bin); len(m) > 0 {
		return nil, fmt.Errorf("missing in %s: %s (run `make kwok envtest-assets`)", bin, strings.Join(m, ", "))
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Workdir: workdir, Kubeconfig: filepath.Join(workdir, name+".kubeconfig"), Bin: bin}
	b := func(n string) string { return filepath.Join(bin, n) }
	if _, err := c.kwokctl(ctx, "create", "cluster", "--name", name, "--runtime", "binary",
		"--etcd-binary", b("etcd"), "--kube-apiserver-binary", b("kube-apiserver"),
		"--kube-controller-manager-binary", b("kube-controller-manager"),
		"--kube-scheduler-binary", b("kube-scheduler"), "--kwok-controller-binary", b("kwok"),
		"--kubeconfig", c.Kubeconfig, "--wait", "120s"); err != nil {
		return nil, err
	}
	if nodes > 0 {
		if _, err := c.kwokctl(ctx, "scale", "node", "--name", name, "--replicas", fmt.Sprint(nodes)); err != nil {
			_ = c.Delete()
			return nil, err
		}
	}
	return c, nil
}

// Delete stops the cluster's processes and removes its state.
func (c *Cluster) Delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.kwokctl(ctx, "delete", "cluster", "--name", c.Name, "--kubeconfig", c.Kubeconfig)
	_ = os.Remove(c.Kubeconfig)
	return err
}

func (c *Cluster) kwokctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kwokctl"), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.Workdir, "PATH="+c.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// RestConfig is the admin configuration.
func (c *Cluster) RestConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// ServiceAccountKubeconfig writes a kubeconfig for the ServiceAccount
// namespace/name (a token from the TokenRequest API, valid for an hour) to
// path, so a local process acts with exactly that account's RBAC.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	admin, err := c.RestConfig()
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	ca, err := os.ReadFile(admin.CAFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kwok"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: "kwok", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = "default"
	return clientcmd.WriteToFile(*cfg, path)
}

// Apply server-side applies every object of a multi-document YAML stream,
// in order, creating namespaces and CRDs before what needs them (the caller
// orders the stream; CRDs are waited for until they are served).
func Apply(ctx context.Context, cfg *rest.Config, yamlData []byte, fieldOwner string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	cached := memory.NewMemCacheClient(disc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)

	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(yamlData), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		var mapping *meta.RESTMapping
		deadline := time.Now().Add(30 * time.Second)
		for {
			mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err == nil || time.Now().After(deadline) {
				break
			}
			// A CRD applied just before may not be served yet.
			cached.Invalidate()
			mapper.Reset()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			ri = dyn.Resource(mapping.Resource).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldOwner, Force: true}); err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		if gvk.Kind == "CustomResourceDefinition" {
			cached.Invalidate()
			mapper.Reset()
		}
	}
}
