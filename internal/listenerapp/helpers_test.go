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

package listenerapp_test

import (
	"github.com/onsi/gomega/gbytes"

	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/controller"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
)

// vmWrite is a request that can change a VirtualMachine: every verb but
// GET on virtualmachines (patches, the start subresource).
func vmWrite(c apirecorder.Call) bool {
	return c.Write() && strings.Contains(c.Path, "/virtualmachines")
}

// running is a listener process started by a test.
type running struct {
	app  *listenerapp.App
	logs *gbytes.Buffer // safe to read while the listener writes it
	// api records the listener's requests to the API server.
	api  *apirecorder.Recorder
	stop func()
}

// vmWrites is how many requests the listener made that can change a VM.
func (r *running) vmWrites() int { return r.api.Count(vmWrite) }

// appOptions tune startApp.
type appOptions struct {
	// secureOnNamespaces get the Role and RoleBinding the operator would
	// create there for SecureOn (see controller.SecureOnNamespaces).
	secureOnNamespaces []string
	// restConfig replaces the listener's API server configuration (it is
	// then used as given: impersonation included).
	restConfig func(*rest.Config) *rest.Config
}

// startApp creates wc (if it does not exist), the ServiceAccount and RBAC
// the operator gives its listener, and runs the listener process as that
// ServiceAccount with its packet sockets in the "node" namespace, until the
// spec ends (or stop is called).
func startApp(ctx context.Context, wc *wolv1beta1.WolConfig, o appOptions) *running {
	GinkgoHelper()
	if err := admin.Get(ctx, client.ObjectKeyFromObject(wc), &wolv1beta1.WolConfig{}); err != nil {
		create(ctx, wc)
	}
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(wc), wc)).To(Succeed())
	for _, obj := range controller.ListenerAccess(wc, controller.Params{Namespace: ns}, o.secureOnNamespaces) {
		if err := admin.Create(ctx, obj); err != nil {
			Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
		}
	}

	r := &running{logs: gbytes.NewBuffer(), api: apirecorder.New()}
	cfg := testenv.Impersonate(adminCfg, ns, controller.ListenerName(wc))
	if o.restConfig != nil {
		cfg = o.restConfig(cfg)
	}
	cfg.Wrap(r.api.Wrap)
	var err error
	r.app, err = listenerapp.New(listenerapp.Options{
		WolConfig:   wc.Name,
		NodeName:    "node-a",
		Namespace:   ns,
		RestConfig:  cfg,
		MetricsAddr: "0",
		NetNS:       lan.Host("node").Path(),
		Log:         zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, r.logs)), zap.UseDevMode(true)),
	})
	Expect(err).NotTo(HaveOccurred())
	actx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.app.Run(actx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			Eventually(done, 10*time.Second).Should(Receive(BeNil()))
		})
	}
	DeferCleanup(r.stop)
	Eventually(r.app.Ready, 20*time.Second, 50*time.Millisecond).Should(BeTrue(), "listener %s not ready", wc.Name)
	return r
}

// metric sums the samples of a metric of the listener whose labels include
// the given name/value pairs.
func (r *running) metric(name string, labels ...string) float64 {
	return metrictest.Value(r.app.Registry(), name, labels...)
}

// sendUDP sends payload from host to the node's address on port.
func sendUDP(host string, port int, payload []byte) {
	GinkgoHelper()
	c, err := lan.Host(host).DialContext(context.Background(), "udp4", net.JoinHostPort(lan.Host("node").IP.String(), fmt.Sprint(port)))
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = c.Close() }()
	_, err = c.Write(payload)
	Expect(err).NotTo(HaveOccurred())
}

// etherwake sends a raw magic frame with the real etherwake from host
// (broadcast; -p password when not empty).
func etherwake(host, mac, password string) {
	GinkgoHelper()
	args := []string{"-i", netlab.Iface, "-b"}
	if password != "" {
		args = append(args, "-p", password)
	}
	out, err := lan.Exec(host, "etherwake", append(args, mac)...)
	Expect(err).NotTo(HaveOccurred(), out)
}

// vmNamed returns a halted VM with one interface of MAC mac and, if key is
// not empty, the annotation naming its own SecureOn password.
func vmNamed(namespace, name, mac, key string) *kubevirtv1.VirtualMachine {
	v := haltedVM(namespace, name, mac)
	if key != "" {
		v.Annotations = map[string]string{wolv1beta1.SecureOnKeyAnnotation: key}
	}
	return v
}

// secureOnSecret is the SecureOn Secret of a namespace.
func secureOnSecret(namespace string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: wolv1beta1.SecureOnSecretName}, Data: data}
}

// vmEvents returns the reasons of the events recorded on a VM.
func vmEvents(ctx context.Context, namespace, name string) []string {
	list := &corev1.EventList{}
	Expect(admin.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.InvolvedObject.Kind == "VirtualMachine" {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// namespaces creates namespaces that may already exist.
func namespaces(ctx context.Context, names ...string) {
	GinkgoHelper()
	for _, n := range names {
		err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
		Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	}
}
