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

// Package kubevirtcp runs KubeVirt's real control plane — virt-api and
// virt-controller, built from kubevirt.io/kubevirt by `make kubevirt` — as
// local processes against a test API server (envtest's or a kwok cluster's),
// installed the way virt-operator installs it:
//
//   - the objects KubeVirt's own install strategy generates (every KubeVirt
//     CRD, the kubevirt-apiserver and kubevirt-controller ServiceAccounts and
//     their RBAC, KubeVirt's user-facing ClusterRoles, the
//     subresources.kubevirt.io v1 and v1alpha3 APIServices, virt-api's
//     mutating and validating webhooks with their failure policies),
//     written by `make kubevirt` into bin/kubevirt/crds and
//     bin/kubevirt/manifests.json;
//   - the APIServices backed by an ExternalName Service pointing at
//     localhost, and the webhooks pointed at https://localhost:<port>, the
//     local virt-api, which serves with a certificate for
//     virt-api.kubevirt.svc;
//   - each component running as its own ServiceAccount (a token from the
//     TokenRequest API), as in its pod: KubeVirt's webhooks treat writes by
//     anyone else differently.
//
// Nothing of KubeVirt is re-implemented here. There is no virt-handler:
// instances stop at Scheduling (no scheduler) or Scheduled (a kwok node),
// and whatever virt-handler would do on a node (report a Running or Paused
// instance, unpause) is not done unless a test does it explicitly.
//
// The API server must trust virt-api's requests as an aggregated API server:
// start it with APIServerArgs.
package kubevirtcp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/pki"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

const (
	// Namespace is KubeVirt's namespace; virt-api and virt-controller use
	// it when they do not run in a pod.
	Namespace = "kubevirt"
	// APIServerSA and ControllerSA are the ServiceAccounts virt-api and
	// virt-controller run as.
	APIServerSA  = "kubevirt-apiserver"
	ControllerSA = "kubevirt-controller"
	// HandlerSA is virt-handler's ServiceAccount. No virt-handler runs; a
	// test that plays a node's part (reporting an instance Running) acts as
	// this account, the only one KubeVirt lets write an instance's status.
	HandlerSA = "kubevirt-handler"
	// ServiceName is the Service the APIServices name.
	ServiceName = "virt-api"
	// SubresourceGroup is KubeVirt's aggregated API group.
	SubresourceGroup = "subresources.kubevirt.io"
	// frontProxyClientCN is the name kube-apiserver's proxy client
	// certificate carries, the only one virt-api trusts headers from.
	frontProxyClientCN = "front-proxy-client"
	fieldOwner         = "kubevirt-wol-test-kubevirt"
	// localHost is where virt-api and virt-controller, processes on this
	// machine, are reached: their Service points there and their serving
	// certificate names it.
	localHost = "localhost"
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// Binaries are the files of bin/ the control plane needs (`make kubevirt`).
var Binaries = []string{"virt-api", "virt-controller", filepath.Join("kubevirt", "manifests.json"), filepath.Join("kubevirt", "crds")}

// Missing lists the files of Binaries that bin lacks.
func Missing(bin string) []string {
	return testenv.MissingBinaries(bin, Binaries)
}

// ControlPlane is KubeVirt's control plane run as local processes.
type ControlPlane struct {
	dir, bin     string
	detached     bool
	featureGates []string

	frontProxyCA, frontProxyClient *pki.KeyPair
	servingCA, serving, handler    *pki.KeyPair

	apiPort, consolePort, controllerPort int

	admin *rest.Config
	api   *proc.Process
	ctrl  *proc.Process
}

// Options configure a ControlPlane.
type Options struct {
	// Bin is the folder with virt-api, virt-controller and
	// kubevirt/manifests.json (default: the repository's bin/).
	Bin string
	// Detached starts the processes in their own process groups, so that
	// they outlive the caller (`make demo`); they are stopped by PID.
	Detached bool
	// FeatureGates are KubeVirt feature gates to enable, in the KubeVirt
	// resource virt-api and virt-controller read their configuration from
	// (as virt-operator's users set them).
	FeatureGates []string
}

// New creates, in dir, the certificates virt-api and the API server need and
// picks free ports. Pass APIServerArgs to the API server before Start.
func New(dir string, opts Options) (*ControlPlane, error) {
	if opts.Bin == "" {
		opts.Bin = testenv.BinDir()
	}
	if m := Missing(opts.Bin); len(m) > 0 {
		return nil, fmt.Errorf("KubeVirt is missing from %s: %v (run `make kubevirt`)", opts.Bin, m)
	}
	c := &ControlPlane{dir: dir, bin: opts.Bin, detached: opts.Detached, featureGates: opts.FeatureGates}
	// virt-api and virt-controller watch the folder of their certificates
	// and reload on any change there: keep it apart from the logs, or every
	// log line written triggers a reload that logs a line.
	for _, d := range []string{"certs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	var err error
	if c.frontProxyCA, err = pki.NewCA("kubevirt-wol-test-front-proxy-ca"); err != nil {
		return nil, err
	}
	if c.frontProxyClient, err = pki.NewClient(c.frontProxyCA, frontProxyClientCN); err != nil {
		return nil, err
	}
	if c.servingCA, err = pki.NewCA("kubevirt-wol-test-kubevirt-ca"); err != nil {
		return nil, err
	}
	svc := ServiceName + "." + Namespace + ".svc"
	if c.serving, err = pki.NewServer(c.servingCA, svc, []string{svc, localHost}, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	if c.handler, err = pki.NewClient(c.servingCA, "kubevirt.io:system:client:virt-handler"); err != nil {
		return nil, err
	}
	for _, kp := range []struct {
		name string
		kp   *pki.KeyPair
	}{{"front-proxy-ca", c.frontProxyCA}, {"front-proxy-client", c.frontProxyClient},
		{"kubevirt-ca", c.servingCA}, {"virt-api", c.serving}, {"virt-handler-client", c.handler}} {
		if err := kp.kp.Write(c.cert(kp.name+".crt"), c.cert(kp.name+".key")); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	c.apiPort, c.consolePort, c.controllerPort = ports[0], ports[1], ports[2]
	return c, nil
}

func (c *ControlPlane) path(name string) string { return filepath.Join(c.dir, name) }

func (c *ControlPlane) cert(name string) string { return filepath.Join(c.dir, "certs", name) }

// APIServerArgs are the kube-apiserver flags that let it proxy to virt-api
// as to any aggregated API server: its front-proxy client certificate, and
// the request-header settings it publishes in
// kube-system/extension-apiserver-authentication (virt-api reads them there
// to trust the user the API server names).
func (c *ControlPlane) APIServerArgs() map[string][]string {
	return map[string][]string{
		"proxy-client-cert-file":             {c.cert("front-proxy-client.crt")},
		"proxy-client-key-file":              {c.cert("front-proxy-client.key")},
		"requestheader-client-ca-file":       {c.cert("front-proxy-ca.crt")},
		"requestheader-allowed-names":        {frontProxyClientCN},
		"requestheader-username-headers":     {"X-Remote-User"},
		"requestheader-group-headers":        {"X-Remote-Group"},
		"requestheader-extra-headers-prefix": {"X-Remote-Extra-"},
	}
}

// Start installs KubeVirt on the API server admin reaches and starts
// virt-controller and virt-api, then waits until the subresource API is
// available, the webhooks answer and virt-controller leads.
func (c *ControlPlane) Start(ctx context.Context, admin *rest.Config) error {
	c.admin = admin
	if err := c.install(ctx); err != nil {
		return fmt.Errorf("installing KubeVirt: %w", err)
	}
	for _, sa := range []string{APIServerSA, ControllerSA} {
		if err := testenv.ServiceAccountKubeconfig(ctx, admin, Namespace, sa, c.path(sa+".kubeconfig")); err != nil {
			return err
		}
	}
	if err := c.startController(); err != nil {
		return err
	}
	return c.StartAPI(ctx)
}

// install applies KubeVirt's objects, pointed at the local virt-api.
func (c *ControlPlane) install(ctx context.Context) error {
	crdFiles, err := filepath.Glob(filepath.Join(c.bin, "kubevirt", "crds", "*.json"))
	if err != nil {
		return err
	}
	var data []byte
	for _, f := range append(crdFiles, filepath.Join(c.bin, "kubevirt", "manifests.json")) {
		d, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		data = append(append(data, d...), '\n')
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: localHost,
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(c.apiPort)}}},
	}
	if err := enc.Encode(ns); err != nil {
		return err
	}
	if err := enc.Encode(svc); err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if err := c.pointAtLocal(obj); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		if err := enc.Encode(obj.Object); err != nil {
			return err
		}
	}
	if err := kwokcluster.Apply(ctx, c.admin, out.Bytes(), fieldOwner); err != nil {
		return err
	}
	return c.configure(ctx)
}

// configure creates the KubeVirt resource, as a user of virt-operator
// would, with the feature gates asked for, and gives it the status
// virt-operator gives it once KubeVirt is deployed (phase, default
// architecture): virt-api and virt-controller read their configuration from
// it.
func (c *ControlPlane) configure(ctx context.Context) error {
	kv, err := kubevirt.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	cr := &kubevirtv1.KubeVirt{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: "kubevirt"},
		Spec: kubevirtv1.KubeVirtSpec{Configuration: kubevirtv1.KubeVirtConfiguration{
			DeveloperConfiguration: &kubevirtv1.DeveloperConfiguration{FeatureGates: c.featureGates},
		}},
	}
	created, err := kv.KubevirtV1().KubeVirts(Namespace).Create(ctx, cr, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("KubeVirt resource: %w", err)
	}
	// virt-api and virt-controller ignore a KubeVirt resource without a
	// phase; virt-operator sets Deployed once the components run.
	created.Status.Phase = kubevirtv1.KubeVirtPhaseDeployed
	created.Status.DefaultArchitecture = "amd64"
	if _, err := kv.KubevirtV1().KubeVirts(Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("KubeVirt resource status: %w", err)
	}
	return nil
}

// pointAtLocal rewrites an APIService or webhook configuration of KubeVirt's
// to reach the local virt-api; other objects are left as generated.
func (c *ControlPlane) pointAtLocal(obj *unstructured.Unstructured) error {
	caBundle := base64.StdEncoding.EncodeToString(c.servingCA.CertPEM)
	switch obj.GetKind() {
	case "APIService":
		if err := unstructured.SetNestedField(obj.Object, int64(c.apiPort), "spec", "service", "port"); err != nil {
			return err
		}
		return unstructured.SetNestedField(obj.Object, caBundle, "spec", "caBundle")
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		hooks, _, err := unstructured.NestedSlice(obj.Object, "webhooks")
		if err != nil {
			return err
		}
		for i, h := range hooks {
			hook := h.(map[string]any)
			path, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
			url := fmt.Sprintf("https://localhost:%d%s", c.apiPort, path)
			hook["clientConfig"] = map[string]any{"url": url, "caBundle": caBundle}
			hooks[i] = hook
		}
		return unstructured.SetNestedSlice(obj.Object, hooks, "webhooks")
	}
	return nil
}

// startController starts virt-controller as kubevirt-controller.
func (c *ControlPlane) startController() error {
	args := []string{
		"--kubeconfig=" + c.path(ControllerSA+".kubeconfig"),
		"--listen=127.0.0.1", "--port=" + strconv.Itoa(c.controllerPort),
		"--prom-cert-file=" + c.cert("virt-api.crt"), "--prom-key-file=" + c.cert("virt-api.key"),
		"--launcher-image=quay.io/kubevirt/virt-launcher:" + Version(),
		"--exporter-image=quay.io/kubevirt/virt-exportserver:" + Version(),
	}
	p, err := proc.Start(filepath.Join(c.bin, "virt-controller"), args, c.env(), c.path("virt-controller.log"), c.detached)
	if err != nil {
		return err
	}
	c.ctrl = p
	return nil
}

// env is the environment of both processes: virt-api leaves a certificate
// folder in TMPDIR at every start, so TMPDIR is in the harness's folder.
func (c *ControlPlane) env() []string { return []string{"TMPDIR=" + c.path("tmp")} }

// StartAPI starts virt-api (again, after KillAPI) on its port and waits until
// kube-apiserver reports the subresource API available and the webhooks
// answer.
func (c *ControlPlane) StartAPI(ctx context.Context) error {
	args := []string{
		"--kubeconfig=" + c.path(APIServerSA+".kubeconfig"),
		"--listen=127.0.0.1", "--port=" + strconv.Itoa(c.apiPort),
		"--console-server-port=" + strconv.Itoa(c.consolePort),
		"--tls-cert-file=" + c.cert("virt-api.crt"), "--tls-key-file=" + c.cert("virt-api.key"),
		"--handler-cert-file=" + c.cert("virt-handler-client.crt"), "--handler-key-file=" + c.cert("virt-handler-client.key"),
	}
	p, err := proc.Start(filepath.Join(c.bin, "virt-api"), args, c.env(), c.path("virt-api.log"), c.detached)
	if err != nil {
		return err
	}
	c.api = p
	return c.WaitReady(ctx)
}

// Unregister deletes the subresources.kubevirt.io APIServices, as on a
// cluster whose KubeVirt does not register its subresource API; virt-api
// keeps running (and serving KubeVirt's webhooks). Register restores them.
func (c *ControlPlane) Unregister(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	for _, v := range []string{"v1", "v1alpha3"} {
		err := dyn.Resource(apiServiceGVR).Delete(ctx, v+"."+SubresourceGroup, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Register installs KubeVirt's objects again (the APIServices among them)
// and waits until the subresource API is available.
func (c *ControlPlane) Register(ctx context.Context) error {
	if err := c.install(ctx); err != nil {
		return err
	}
	return c.WaitReady(ctx)
}

// KillAPI kills virt-api (SIGKILL, as a crash would) and returns once it is
// gone: the subresource API then answers 503 through kube-apiserver, and
// every write KubeVirt's webhooks guard fails.
func (c *ControlPlane) KillAPI() { c.api.Kill() }

// WaitReady waits until the subresource API is available through
// kube-apiserver, KubeVirt's webhooks answer (a dry-run VirtualMachine
// create passes them) and virt-controller leads.
func (c *ControlPlane) WaitReady(ctx context.Context) error {
	kv, err := kubevirt.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	probe := &kubevirtv1.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "kubevirtcp-readiness", Namespace: Namespace},
		Spec: kubevirtv1.VirtualMachineSpec{
			RunStrategy: ptrTo(kubevirtv1.RunStrategyHalted),
			Template:    &kubevirtv1.VirtualMachineInstanceTemplateSpec{},
		},
	}
	leader := c.leaderProbe()
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, p := range []*proc.Process{c.api, c.ctrl} {
			if p.Exited() {
				return false, fmt.Errorf("%s exited:\n%s", filepath.Base(p.Args[0]), tail(p.Output(), 30))
			}
		}
		for _, v := range []string{"v1", "v1alpha3"} {
			u, err := dyn.Resource(apiServiceGVR).Get(ctx, v+"."+SubresourceGroup, metav1.GetOptions{})
			if err != nil {
				last = err
				return false, nil
			}
			if !available(u) {
				last = fmt.Errorf("APIService %s.%s not available yet", v, SubresourceGroup)
				return false, nil
			}
		}
		if _, err := kv.KubevirtV1().VirtualMachines(Namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			last = fmt.Errorf("KubeVirt's webhooks: %w", err)
			return false, nil
		}
		if err := leader(ctx); err != nil {
			last = fmt.Errorf("virt-controller: %w", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("KubeVirt not ready: %w (last: %v)", err, last)
	}
	return nil
}

// leaderProbe returns a check that virt-controller has become the leader
// (its /leader endpoint answers 200).
func (c *ControlPlane) leaderProbe() func(context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: c.servingCA.Pool(), ServerName: localHost},
	}}
	url := fmt.Sprintf("https://127.0.0.1:%d/leader", c.controllerPort)
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /leader: %s", resp.Status)
		}
		return nil
	}
}

func available(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Stop stops virt-api and virt-controller.
func (c *ControlPlane) Stop() {
	c.api.Stop()
	c.ctrl.Stop()
}

// Processes returns virt-api's and virt-controller's processes (for logs and
// PIDs).
func (c *ControlPlane) Processes() (api, controller *proc.Process) { return c.api, c.ctrl }

// Logs returns the last lines of both processes' logs, for a failure report.
func (c *ControlPlane) Logs(lines int) string {
	var b bytes.Buffer
	for _, p := range []*proc.Process{c.api, c.ctrl} {
		if p != nil {
			fmt.Fprintf(&b, "===== %s\n%s\n", filepath.Base(p.Args[0]), tail(p.Output(), lines))
		}
	}
	return b.String()
}

// ActAsHandler returns a copy of admin acting as virt-handler's
// ServiceAccount, for a test that plays a node's part.
func ActAsHandler(admin *rest.Config) *rest.Config {
	return testenv.Impersonate(admin, Namespace, HandlerSA)
}

// Version is the KubeVirt release the binaries were built from.
func Version() string {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "hack", "tools", "kubevirt", "go.mod"))
	if err == nil {
		for _, line := range bytes.Split(data, []byte("\n")) {
			f := bytes.Fields(line)
			if len(f) == 2 && string(f[0]) == "kubevirt.io/kubevirt" {
				return string(f[1])
			}
		}
	}
	return "unknown"
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(s string, lines int) string {
	parts := bytes.Split([]byte(s), []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return string(bytes.Join(parts, []byte("\n")))
}

func ptrTo[T any](v T) *T { return &v }
