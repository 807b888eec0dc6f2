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

// Package kubevirtapi serves a test double of KubeVirt's virt-api — the
// aggregated API subresources.kubevirt.io/v1 with the start, stop and
// unpause subresources — through a real kube-apiserver started by envtest.
//
// The double runs in the test process as an HTTPS server on 127.0.0.1. It is
// registered with an APIService backed by an ExternalName Service pointing
// at localhost, so that clients reach it exactly as on a real cluster:
// through kube-apiserver, at the same URLs, with kube-apiserver enforcing
// RBAC (update on virtualmachines/start etc. in subresources.kubevirt.io)
// before proxying. The double trusts only requests proxied by kube-apiserver
// (front-proxy client certificate), records them, and applies virt-api's
// per-run-strategy start semantics with its own admin client, as virt-api
// does with its service account. Unpause, which virt-api delegates to
// virt-handler, removes the instance's Paused condition.
//
// Usage:
//
//	api, _ := kubevirtapi.New(t.TempDir())
//	env, cfg, _ := testenv.Start(testenv.Options{APIServerArgs: api.APIServerArgs()})
//	_ = api.Start(ctx, cfg) // registers the APIService and waits until it is available
//	defer api.Stop(ctx)
package kubevirtapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
)

const (
	// Group and Version of the aggregated API.
	Group   = "subresources.kubevirt.io"
	Version = "v1"
	// APIServiceName is the name of the APIService object.
	APIServiceName = Version + "." + Group
	// Namespace and ServiceName of the ExternalName Service behind it.
	Namespace   = "kubevirt-test-virt-api"
	ServiceName = "virt-api"
	// FrontProxyClientCN is the common name of kube-apiserver's proxy
	// client certificate, the only client the double accepts.
	FrontProxyClientCN = "front-proxy-client"
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// Request is one request the double received.
type Request struct {
	// Method and Path of the request.
	Method, Path string
	// User is the requesting user, as kube-apiserver authenticated it.
	User string
	// Code is the HTTP status the double answered.
	Code int
}

// VirtAPI is the virt-api test double.
type VirtAPI struct {
	dir        string
	frontProxy *keyPair // CA
	proxyPool  *x509.CertPool
	servingCA  *keyPair
	serving    *keyPair

	admin *rest.Config
	kv    kubevirt.Interface
	dyn   dynamic.Interface
	srv   *http.Server
	port  int

	mu       sync.Mutex
	requests []Request
}

// New creates the certificates (in dir) the double and kube-apiserver need.
// Pass APIServerArgs to testenv.Options before starting the API server.
func New(dir string) (*VirtAPI, error) {
	fp, err := newCA("kubevirt-wol-test-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	client, err := newLeaf(fp, FrontProxyClientCN, true, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := client.write(filepath.Join(dir, "front-proxy-client.crt"), filepath.Join(dir, "front-proxy-client.key")); err != nil {
		return nil, err
	}
	sca, err := newCA("kubevirt-wol-test-virt-api-ca")
	if err != nil {
		return nil, err
	}
	serving, err := newLeaf(sca, ServiceName, false,
		[]string{ServiceName + "." + Namespace + ".svc", "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(fp.cert)
	return &VirtAPI{dir: dir, frontProxy: fp, proxyPool: pool, servingCA: sca, serving: serving}, nil
}

// APIServerArgs are the kube-apiserver flags that make it present the
// front-proxy client certificate when it proxies to aggregated APIs.
func (v *VirtAPI) APIServerArgs() map[string][]string {
	return map[string][]string{
		"proxy-client-cert-file": {filepath.Join(v.dir, "front-proxy-client.crt")},
		"proxy-client-key-file":  {filepath.Join(v.dir, "front-proxy-client.key")},
	}
}

// Start serves the double and registers it with the API server of admin (an
// admin rest.Config), then waits until the APIService is available and
// discovery lists the start subresource.
func (v *VirtAPI) Start(ctx context.Context, admin *rest.Config) error {
	var err error
	v.admin = admin
	if v.kv, err = kubevirt.NewForConfig(admin); err != nil {
		return err
	}
	if v.dyn, err = dynamic.NewForConfig(admin); err != nil {
		return err
	}
	cert, err := v.serving.tls()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	v.port = ln.Addr().(*net.TCPAddr).Port
	v.srv = &http.Server{
		Handler:           v.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    v.proxyPool,
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() { _ = v.srv.ServeTLS(ln, "", "") }()

	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = cs.CoreV1().Services(Namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return v.Register(ctx)
}

// Register creates the APIService (again) and waits until it is available.
func (v *VirtAPI) Register(ctx context.Context) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": APIServiceName},
		"spec": map[string]any{
			"group":                Group,
			"version":              Version,
			"groupPriorityMinimum": int64(1000),
			"versionPriority":      int64(15),
			"caBundle":             base64.StdEncoding.EncodeToString(v.servingCA.certPEM),
			"service":              map[string]any{"namespace": Namespace, "name": ServiceName, "port": int64(v.port)},
		},
	}}
	if _, err := v.dyn.Resource(apiServiceGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating APIService: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return v.served(), nil
	})
}

// Unregister deletes the APIService and waits until discovery no longer
// shows the API (requests to it then get 404 from kube-apiserver).
func (v *VirtAPI) Unregister(ctx context.Context) error {
	err := v.dyn.Resource(apiServiceGVR).Delete(ctx, APIServiceName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return !v.served(), nil
	})
}

func (v *VirtAPI) served() bool {
	list, err := v.kv.Discovery().ServerResourcesForGroupVersion(Group + "/" + Version)
	return err == nil && slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "virtualmachines/start" })
}

// Stop unregisters the double and shuts its server down.
func (v *VirtAPI) Stop(ctx context.Context) error {
	err := v.Unregister(ctx)
	if v.srv != nil {
		err = errors.Join(err, v.srv.Shutdown(ctx))
	}
	return err
}

// Requests returns the requests received so far (discovery included).
func (v *VirtAPI) Requests() []Request {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.requests)
}

// ResetRequests forgets the requests received so far.
func (v *VirtAPI) ResetRequests() {
	v.mu.Lock()
	v.requests = nil
	v.mu.Unlock()
}

func (v *VirtAPI) routes() http.Handler {
	mux := http.NewServeMux()
	prefix := "/apis/" + Group + "/" + Version
	mux.HandleFunc("GET /apis/"+Group, func(w http.ResponseWriter, _ *http.Request) {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: Group + "/" + Version, Version: Version}
		writeJSON(w, http.StatusOK, &metav1.APIGroup{
			TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:             Group,
			Versions:         []metav1.GroupVersionForDiscovery{gv},
			PreferredVersion: gv,
		})
	})
	mux.HandleFunc("GET "+prefix, func(w http.ResponseWriter, _ *http.Request) {
		res := func(name, kind string) metav1.APIResource {
			return metav1.APIResource{Name: name, Namespaced: true, Kind: kind, Verbs: metav1.Verbs{"update"}}
		}
		writeJSON(w, http.StatusOK, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: Group + "/" + Version,
			APIResources: []metav1.APIResource{
				res("virtualmachines/start", "StartOptions"),
				res("virtualmachines/stop", "StopOptions"),
				res("virtualmachineinstances/pause", "PauseOptions"),
				res("virtualmachineinstances/unpause", "UnpauseOptions"),
			},
		})
	})
	mux.HandleFunc("PUT "+prefix+"/namespaces/{ns}/virtualmachines/{name}/start", v.proxied(v.start))
	mux.HandleFunc("PUT "+prefix+"/namespaces/{ns}/virtualmachines/{name}/stop", v.proxied(v.stop))
	mux.HandleFunc("PUT "+prefix+"/namespaces/{ns}/virtualmachineinstances/{name}/unpause", v.proxied(v.unpause))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: Group}, r.URL.Path))
	})
	return v.record(mux)
}

// record logs every request with the status it got.
func (v *VirtAPI) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		v.mu.Lock()
		v.requests = append(v.requests, Request{Method: r.Method, Path: r.URL.Path, User: r.Header.Get("X-Remote-User"), Code: rec.code})
		v.mu.Unlock()
	})
}

type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

// proxied accepts only requests kube-apiserver proxied (front-proxy client
// certificate) on behalf of an authenticated user.
func (v *VirtAPI) proxied(h func(ctx context.Context, ns, name string, body []byte) *apierrors.StatusError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != FrontProxyClientCN {
			writeStatus(w, apierrors.NewUnauthorized("only kube-apiserver's front proxy may call the test virt-api"))
			return
		}
		if r.Header.Get("X-Remote-User") == "" {
			writeStatus(w, apierrors.NewUnauthorized("no X-Remote-User"))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()))
			return
		}
		if serr := h(r.Context(), r.PathValue("ns"), r.PathValue("name"), body); serr != nil {
			writeStatus(w, serr)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

var vmResource = kubevirtv1.Resource("virtualmachine")

// start is virt-api's start handler: the checks it makes before the run
// strategy switch, then the per-run-strategy patch (built by the same
// functions as the starter's direct path), a failed JSON-patch test
// becoming 409 Conflict and other patch errors 500.
func (v *VirtAPI) start(ctx context.Context, ns, name string, body []byte) *apierrors.StatusError {
	var opts kubevirtv1.StartOptions
	if len(body) > 0 {
		if err := json.Unmarshal(body, &opts); err != nil {
			return apierrors.NewBadRequest(err.Error())
		}
	}
	if opts.Paused {
		return apierrors.NewBadRequest("the test virt-api does not implement paused starts")
	}
	vms := v.kv.KubevirtV1().VirtualMachines(ns)
	vm, err := vms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return asStatus(err)
	}
	vmi, err := v.kv.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		vmi = nil
	case err != nil:
		return apierrors.NewInternalError(err)
	}
	if vmi != nil && !vmi.IsFinal() && vmi.Status.Phase != kubevirtv1.Unknown && vmi.Status.Phase != kubevirtv1.VmPhaseUnset {
		return apierrors.NewConflict(vmResource, name, errors.New("VM is already running"))
	}
	for _, c := range vm.Status.Conditions {
		if c.Type == kubevirtv1.VirtualMachineManualRecoveryRequired && c.Status == corev1.ConditionTrue {
			return apierrors.NewConflict(vmResource, name, errors.New("VM requires manual recovery"))
		}
	}
	rs, err := vm.RunStrategy()
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	switch rs {
	case kubevirtv1.RunStrategyHalted:
		data, err := vmstarter.RunningPatch(vm)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		_, err = vms.Patch(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{})
		return patchStatus(name, err)
	case kubevirtv1.RunStrategyManual, kubevirtv1.RunStrategyRerunOnFailure:
		if rs == kubevirtv1.RunStrategyRerunOnFailure && vmi != nil && vmi.Status.Phase == kubevirtv1.Failed {
			return apierrors.NewConflict(vmResource, name, fmt.Errorf("%v does not support starting VM from failed state", rs))
		}
		data, err := vmstarter.ChangeRequestPatch(vm, vmstarter.StartRequests(vm, vmi)...)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("unable to complete request: %w", err))
		}
		_, err = vms.PatchStatus(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{})
		return patchStatus(name, err)
	case kubevirtv1.RunStrategyAlways, kubevirtv1.RunStrategyOnce:
		return apierrors.NewConflict(vmResource, name, fmt.Errorf("%v does not support manual start requests", rs))
	}
	return nil // WaitAsReceiver and anything else: accepted, nothing done
}

// stop is the part of virt-api's stop handler the tests use: Manual and
// RerunOnFailure get a Stop request for the running instance; Always, Once
// and Halted get runStrategy Halted.
func (v *VirtAPI) stop(ctx context.Context, ns, name string, _ []byte) *apierrors.StatusError {
	vms := v.kv.KubevirtV1().VirtualMachines(ns)
	vm, err := vms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return asStatus(err)
	}
	vmi, err := v.kv.KubevirtV1().VirtualMachineInstances(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return apierrors.NewInternalError(err)
	}
	if err != nil || vmi.IsFinal() {
		return apierrors.NewConflict(vmResource, name, errors.New("VM is not running"))
	}
	rs, err := vm.RunStrategy()
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	switch rs {
	case kubevirtv1.RunStrategyManual, kubevirtv1.RunStrategyRerunOnFailure:
		uid := vmi.UID
		data, err := vmstarter.ChangeRequestPatch(vm, kubevirtv1.VirtualMachineStateChangeRequest{Action: kubevirtv1.StopRequest, UID: &uid})
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		_, err = vms.PatchStatus(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{})
		return patchStatus(name, err)
	default:
		ops := []map[string]any{
			{"op": "test", "path": "/spec/runStrategy", "value": vm.Spec.RunStrategy},
			{"op": "replace", "path": "/spec/runStrategy", "value": kubevirtv1.RunStrategyHalted},
		}
		if vm.Spec.Running != nil {
			ops = []map[string]any{
				{"op": "test", "path": "/spec/running", "value": *vm.Spec.Running},
				{"op": "replace", "path": "/spec/running", "value": false},
			}
		}
		data, err := json.Marshal(ops)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		_, err = vms.Patch(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{})
		return patchStatus(name, err)
	}
}

// unpause validates like virt-api and then does virt-handler's part:
// the instance's Paused condition goes away.
func (v *VirtAPI) unpause(ctx context.Context, ns, name string, _ []byte) *apierrors.StatusError {
	vmis := v.kv.KubevirtV1().VirtualMachineInstances(ns)
	vmi, err := vmis.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return asStatus(err)
	}
	res := kubevirtv1.Resource("virtualmachineinstance")
	if vmi.Status.Phase != kubevirtv1.Running {
		return apierrors.NewConflict(res, name, errors.New("VMI is not running"))
	}
	kept := slices.DeleteFunc(slices.Clone(vmi.Status.Conditions), func(c kubevirtv1.VirtualMachineInstanceCondition) bool {
		return c.Type == kubevirtv1.VirtualMachineInstancePaused
	})
	if len(kept) == len(vmi.Status.Conditions) {
		return apierrors.NewConflict(res, name, errors.New("VMI is not paused"))
	}
	data, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": vmi.ResourceVersion},
		{"op": "replace", "path": "/status/conditions", "value": kept},
	})
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	_, err = vmis.Patch(ctx, name, types.JSONPatchType, data, metav1.PatchOptions{}, "status")
	return patchStatus(name, err)
}

// patchStatus maps a patch error as virt-api does: a failed JSON-patch test
// (422 from kube-apiserver) is a conflict, anything else an internal error.
func patchStatus(name string, err error) *apierrors.StatusError {
	switch {
	case err == nil:
		return nil
	case apierrors.IsInvalid(err) || apierrors.IsConflict(err):
		return apierrors.NewConflict(vmResource, name, err)
	default:
		return apierrors.NewInternalError(err)
	}
}

func asStatus(err error) *apierrors.StatusError {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se
	}
	return apierrors.NewInternalError(err)
}

func writeStatus(w http.ResponseWriter, se *apierrors.StatusError) {
	st := se.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	writeJSON(w, int(st.Code), &st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	_, _ = w.Write(data)
}
