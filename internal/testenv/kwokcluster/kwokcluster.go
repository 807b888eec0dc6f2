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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
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
	return testenv.MissingBinaries(bin, Binaries)
}

// Options shape a cluster.
type Options struct {
	// Nodes is the number of simulated nodes (kwokctl scale node).
	Nodes int
	// KubeVirtNodes makes every node one KubeVirt schedules on, as
	// virt-handler would: the labels kubevirt.io/schedulable=true and
	// machine-type.node.kubevirt.io/q35=true, and the device resources
	// virt-launcher pods request (devices.kubevirt.io/kvm, tun, vhost-net,
	// and ephemeral storage).
	KubeVirtNodes bool
	// APIServerArgs are extra kube-apiserver flags ("name" -> values; a
	// flag kwokctl already sets is overridden).
	APIServerArgs map[string][]string
	// CertSANs are extra names and addresses of the API server's serving
	// certificate (the `kubernetes` Service's address, say, for a real
	// node's pods).
	CertSANs []string
	// RealNodes makes kwok simulate only the nodes it creates (annotated
	// kwok.x-k8s.io/node=fake), leaving nodes a real kubelet registers
	// (package node) and their pods to that kubelet.
	RealNodes bool
}

// simulatedNode is the annotation kwokctl puts on the nodes it creates.
const simulatedNode = "kwok.x-k8s.io/node=fake"

// Create starts a cluster named name shaped by opts. kwok's state and the
// admin kubeconfig go under workdir.
func Create(ctx context.Context, bin, workdir, name string, opts Options) (*Cluster, error) {
	if m := Missing(bin); len(m) > 0 {
		return nil, fmt.Errorf("missing in %s: %s (run `make kwok envtest-assets`)", bin, strings.Join(m, ", "))
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Workdir: workdir, Kubeconfig: filepath.Join(workdir, name+".kubeconfig"), Bin: bin}
	b := func(n string) string { return filepath.Join(bin, n) }
	args := []string{"create", "cluster", "--name", name, "--runtime", "binary",
		"--etcd-binary", b("etcd"), "--kube-apiserver-binary", b("kube-apiserver"),
		"--kube-controller-manager-binary", b("kube-controller-manager"),
		"--kube-scheduler-binary", b("kube-scheduler"), "--kwok-controller-binary", b("kwok"),
		"--kubeconfig", c.Kubeconfig, "--wait", "120s"}
	if len(opts.APIServerArgs) > 0 || len(opts.CertSANs) > 0 || opts.RealNodes {
		conf := filepath.Join(workdir, name+".kwokctl.yaml")
		if err := writeConfig(conf, opts); err != nil {
			return nil, err
		}
		args = append([]string{"--config", conf}, args...)
	}
	if err := c.kwokctl(ctx, args...); err != nil {
		return nil, err
	}
	if opts.Nodes > 0 {
		if err := c.AddNodes(ctx, opts.Nodes, opts.KubeVirtNodes); err != nil {
			_ = c.Delete()
			return nil, err
		}
	}
	if err := c.EnsureRunning(ctx); err != nil {
		_ = c.Delete()
		return nil, err
	}
	return c, nil
}

// EnsureRunning starts again any component of the cluster that has ended
// (`kwokctl start cluster` starts only those): under load a
// kube-controller-manager can die while the API server is still starting,
// and kwokctl does not restart it by itself.
func (c *Cluster) EnsureRunning(ctx context.Context) error {
	return c.kwokctl(ctx, "start", "cluster", "--name", c.Name)
}

// AddNodes brings the number of simulated nodes to n, and with kubeVirt
// makes each one KubeVirt schedules on (see Options.KubeVirtNodes). Nodes
// that kwok does not simulate are left as they are.
func (c *Cluster) AddNodes(ctx context.Context, n int, kubeVirt bool) error {
	if err := c.kwokctl(ctx, "scale", "node", "--name", c.Name, "--replicas", fmt.Sprint(n)); err != nil {
		return err
	}
	if kubeVirt {
		return c.kubeVirtNodes(ctx)
	}
	return nil
}

// writeConfig writes a kwokctl configuration that passes opts'
// APIServerArgs to kube-apiserver, adds its CertSANs and, with RealNodes,
// has the kwok controller manage only the nodes kwokctl creates.
func writeConfig(path string, opts Options) error {
	args := opts.APIServerArgs
	var b strings.Builder
	b.WriteString("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\n")
	if len(opts.CertSANs) > 0 {
		b.WriteString("options:\n  kubeApiserverCertSANs:\n")
		for _, san := range opts.CertSANs {
			fmt.Fprintf(&b, "  - %q\n", san)
		}
	}
	b.WriteString("componentsPatches:\n")
	if opts.RealNodes {
		fmt.Fprintf(&b, "- name: kwok-controller\n  extraArgs:\n  - key: manage-all-nodes\n    value: \"false\"\n    override: true\n"+
			"  - key: manage-nodes-with-annotation-selector\n    value: %q\n", simulatedNode)
	}
	if len(args) == 0 {
		return os.WriteFile(path, []byte(b.String()), 0o644)
	}
	b.WriteString("- name: kube-apiserver\n  extraArgs:\n")
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		// override replaces a flag kwokctl sets; it adds nothing new.
		fmt.Fprintf(&b, "  - key: %s\n    value: %q\n    override: %t\n", k, strings.Join(args[k], ","), kwokctlSets[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// kwokctlSets are the kube-apiserver flags kwokctl sets itself (binary
// runtime, secure port) that a test may want to replace.
var kwokctlSets = map[string]bool{
	"proxy-client-cert-file": true, "proxy-client-key-file": true,
	"tls-cert-file": true, "tls-private-key-file": true, "client-ca-file": true,
	"authorization-mode": true, "service-account-issuer": true,
}

// KubeVirt's node label and the device resources of its device plugins.
const (
	kubeVirtSchedulable = "kubevirt.io/schedulable"
	// kubeVirtMachineType is what virt-handler's node labeller says of a
	// node that runs the default machine type (q35); launcher pods select it.
	kubeVirtMachineType = "machine-type.node.kubevirt.io/q35"
	kubeVirtDevices     = "devices.kubevirt.io/"
)

// kubeVirtNodes labels every simulated node schedulable for KubeVirt and gives it the
// device resources virt-launcher pods request.
func (c *Cluster) kubeVirtNodes(ctx context.Context) error {
	cfg, err := c.RestConfig()
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	key, value, _ := strings.Cut(simulatedNode, "=")
	// Launcher pods also request ephemeral storage, which kwok's node
	// template does not list.
	devices := map[string]string{"ephemeral-storage": "1Ti"}
	for _, d := range []string{"kvm", "tun", "vhost-net"} {
		devices[kubeVirtDevices+d] = "1k"
	}
	status, err := json.Marshal(map[string]any{"status": map[string]any{"capacity": devices, "allocatable": devices}})
	if err != nil {
		return err
	}
	label := []byte(`{"metadata":{"labels":{"` + kubeVirtSchedulable + `":"true","` + kubeVirtMachineType + `":"true"}}}`)
	for _, n := range nodes.Items {
		if n.Annotations[key] != value {
			continue // a real node: its kubelet says what it has
		}
		if _, err := kube.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, status, metav1.PatchOptions{}, "status"); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if _, err := kube.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, label, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}

// Delete stops the cluster's processes and removes its state.
func (c *Cluster) Delete() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.kwokctl(ctx, "delete", "cluster", "--name", c.Name, "--kubeconfig", c.Kubeconfig)
	_ = os.Remove(c.Kubeconfig)
	return err
}

// kwokctl runs kwokctl; its output is in the error when it fails.
func (c *Cluster) kwokctl(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kwokctl"), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.Workdir, "PATH="+c.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
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
// namespace/name to path (see testenv.ServiceAccountKubeconfig).
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	admin, err := c.RestConfig()
	if err != nil {
		return err
	}
	return testenv.ServiceAccountKubeconfig(ctx, admin, namespace, name, path)
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
