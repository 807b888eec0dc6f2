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

// Command manifests writes the objects KubeVirt's virt-operator would create
// for virt-api and virt-controller in namespace "kubevirt": every KubeVirt
// CRD (the KubeVirt CRD included), one JSON file each in OUT/crds (the form
// envtest installs), and in OUT/manifests.json, as a stream of JSON
// documents, the ServiceAccounts, ClusterRoles,
// Roles and their bindings, the subresources.kubevirt.io APIServices and
// virt-api's mutating and validating webhook configurations. They come from
// KubeVirt's own install strategy code (GenerateCurrentInstallStrategy), so
// the tests' KubeVirt looks exactly like a cluster's; the test harness then
// points the APIServices and webhooks at the local virt-api.
//
// Left out: the Deployments and DaemonSet (the harness runs virt-api and
// virt-controller as processes; there is no virt-handler), Services and
// certificate Secrets (the harness makes its own), SCCs and Routes
// (OpenShift), virt-operator's own webhook, and the feature-gated
// virt-launcher pod webhook.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1 "kubevirt.io/api/core/v1"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/install"
	"kubevirt.io/kubevirt/pkg/virt-operator/util"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manifests:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "", "folder to write crds/ and manifests.json into (required)")
	version := flag.String("version", "", "the KubeVirt release, for the image names KubeVirt derives (required)")
	flag.Parse()
	if *out == "" || *version == "" {
		return fmt.Errorf("usage: manifests -out DIR -version vX.Y.Z")
	}
	// The strategy derives image names from the operator's; they only
	// appear in objects this program leaves out.
	for k, v := range map[string]string{
		util.VirtOperatorImageEnvName: "quay.io/kubevirt/virt-operator:" + *version,
		util.KubeVirtVersionEnvName:   *version,
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	kv := &v1.KubeVirt{}
	kv.Namespace = "kubevirt"
	cfg := util.GetTargetConfigFromKV(kv)
	s, err := install.GenerateCurrentInstallStrategy(cfg, "", kv.Namespace)
	if err != nil {
		return err
	}
	// The KubeVirt CRD itself is created by virt-operator, not by its
	// install strategy; virt-api and virt-controller watch it too.
	kvCRD, err := components.NewKubeVirtCrd()
	if err != nil {
		return err
	}
	crdDir := filepath.Join(*out, "crds")
	if err := os.RemoveAll(crdDir); err != nil {
		return err
	}
	if err := os.MkdirAll(crdDir, 0o755); err != nil {
		return err
	}
	for _, crd := range append([]*extv1.CustomResourceDefinition{kvCRD}, s.CRDs()...) {
		data, err := json.MarshalIndent(crd, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(crdDir, crd.Name+".json"), data, 0o644); err != nil {
			return err
		}
	}
	var objs []runtime.Object
	for _, o := range s.ServiceAccounts() {
		objs = append(objs, o)
	}
	for _, o := range s.ClusterRoles() {
		objs = append(objs, o)
	}
	for _, o := range s.ClusterRoleBindings() {
		objs = append(objs, o)
	}
	for _, o := range s.Roles() {
		objs = append(objs, o)
	}
	for _, o := range s.RoleBindings() {
		objs = append(objs, o)
	}
	for _, o := range s.APIServices() {
		objs = append(objs, o)
	}
	for _, o := range s.MutatingWebhookConfigurations() {
		if o.Name == components.VirtAPIMutatingWebhookName {
			objs = append(objs, o)
		}
	}
	for _, o := range s.ValidatingWebhookConfigurations() {
		if o.Name == components.VirtAPIValidatingWebhookName {
			objs = append(objs, o)
		}
	}
	f, err := os.Create(filepath.Join(*out, "manifests.json"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, o := range objs {
		if err := enc.Encode(o); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}
