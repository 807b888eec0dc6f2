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
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kwokcluster"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

// Binaries are the programs of bin/ this package runs.
var Binaries = []string{"prometheus-operator", "prometheus"}

// saDir is where a pod finds its ServiceAccount's token and the cluster's
// CA, and where client-go's in-cluster configuration reads them.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

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
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := kwokcluster.Apply(ctx, admin, data, fieldOwner); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
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

// Options shape a Server.
type Options struct {
	// Dir holds the pod's volumes, its ServiceAccount files, the TSDB and
	// the log.
	Dir string
	// Admin is the cluster's admin configuration.
	Admin *rest.Config
	// Host is the LAN host whose network namespace Prometheus runs in.
	Host *netlab.Host
	// Port is Prometheus's web port in that namespace (the pod's 9090 if
	// 0); two servers in one namespace need two ports.
	Port int
}

// Server is a real Prometheus running for a Prometheus resource.
type Server struct {
	// Namespace and Name are the Prometheus resource's.
	Namespace, Name string
	// Pod is the pod (of the operator's StatefulSet) it runs for.
	Pod *corev1.Pod
	// Process is the Prometheus process.
	Process *proc.Process
	// Rewritten lists the in-pod paths of the generated configuration and
	// of the arguments that were moved under Dir, as "from -> to".
	Rewritten []string

	opts   Options
	kube   kubernetes.Interface
	mounts []mount
	relay  net.Listener
	client *http.Client
	base   string
	api    promv1.API
	wg     sync.WaitGroup
}

// mount is one volume mount of the prometheus container.
type mount struct {
	path   string // in the pod
	local  string // under Dir
	volume *corev1.Volume
	key    string // subPath
}

// Start waits (up to two minutes) for the operator to have written the
// configuration of the Prometheus resource namespace/name and for its pod
// to run, lays the pod's volumes out, and starts Prometheus.
func Start(ctx context.Context, namespace, name string, opts Options) (*Server, error) {
	if opts.Dir == "" || opts.Admin == nil || opts.Host == nil {
		return nil, errors.New("promstack: Dir, Admin and Host are required")
	}
	if opts.Port == 0 {
		opts.Port = 9090
	}
	kube, err := kubernetes.NewForConfig(opts.Admin)
	if err != nil {
		return nil, err
	}
	s := &Server{Namespace: namespace, Name: name, opts: opts, kube: kube}
	if err := s.waitPod(ctx); err != nil {
		return nil, err
	}
	if err := s.Write(ctx); err != nil {
		return nil, err
	}
	args, err := s.args()
	if err != nil {
		return nil, err
	}
	if err := s.startRelay(); err != nil {
		return nil, err
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: opts.Host.DialContext}}
	s.base = "http://" + net.JoinHostPort(opts.Host.IP.String(), strconv.Itoa(opts.Port))
	c, err := promapi.NewClient(promapi.Config{Address: s.base, Client: s.client})
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.api = promv1.NewAPI(c)

	// ip netns exec enters the namespace in a mount namespace of its own
	// whose mounts do not propagate back; there a tmpfs on /run (/var/run;
	// nothing of this machine's /run is Prometheus's business) takes the
	// ServiceAccount folder at its in-pod path.
	_, relayPort, _ := net.SplitHostPort(s.relay.Addr().String())
	script := `set -e; run=$(readlink -f /var/run); mount -t tmpfs -o mode=0755 tmpfs "$run"; mkdir -p ` + saDir +
		`; mount --bind "$SA_DIR" ` + saDir + `; exec "$@"`
	cmd := append([]string{"netns", "exec", opts.Host.NS, "sh", "-c", script, "sh", filepath.Join(testenv.BinDir(), "prometheus")}, args...)
	env := []string{"SA_DIR=" + s.local(saDir), "KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + relayPort,
		"POD_NAME=" + s.Pod.Name}
	s.Process, err = proc.Start("ip", cmd, env, filepath.Join(opts.Dir, "prometheus.log"), false)
	if err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) local(inPod string) string { return filepath.Join(s.opts.Dir, "pod", inPod) }

// waitPod waits for the configuration Secret and the StatefulSet's first
// pod, Running.
func (s *Server) waitPod(ctx context.Context) error {
	podName := "prometheus-" + s.Name + "-0"
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if _, last = s.kube.CoreV1().Secrets(s.Namespace).Get(ctx, s.configSecret(), metav1.GetOptions{}); last != nil {
			return false, nil
		}
		var pod *corev1.Pod
		if pod, last = s.kube.CoreV1().Pods(s.Namespace).Get(ctx, podName, metav1.GetOptions{}); last != nil {
			return false, nil
		}
		if pod.Status.Phase != corev1.PodRunning {
			last = fmt.Errorf("pod %s is %s", podName, pod.Status.Phase)
			return false, nil
		}
		s.Pod = pod
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("prometheus %s/%s: the operator's Secret and pod %s: %w (last: %v)", s.Namespace, s.Name, podName, err, last)
	}
	c := s.container()
	if c == nil {
		return fmt.Errorf("pod %s has no prometheus container", podName)
	}
	for _, vm := range c.VolumeMounts {
		i := slices.IndexFunc(s.Pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			return fmt.Errorf("pod %s: volume %s not found", podName, vm.Name)
		}
		s.mounts = append(s.mounts, mount{path: vm.MountPath, local: s.local(vm.MountPath), volume: &s.Pod.Spec.Volumes[i], key: vm.SubPath})
	}
	if !slices.ContainsFunc(s.mounts, func(m mount) bool { return m.path == saDir }) {
		return fmt.Errorf("pod %s: no ServiceAccount token mounted at %s", podName, saDir)
	}
	// Longest first: a path is rewritten by its innermost mount.
	slices.SortFunc(s.mounts, func(a, b mount) int { return len(b.path) - len(a.path) })
	return nil
}

func (s *Server) configSecret() string { return "prometheus-" + s.Name }

func (s *Server) container() *corev1.Container {
	for i := range s.Pod.Spec.Containers {
		if s.Pod.Spec.Containers[i].Name == "prometheus" {
			return &s.Pod.Spec.Containers[i]
		}
	}
	return nil
}

// Write lays the pod's volumes out as they are now (the Secrets and
// ConfigMaps the operator last wrote) and writes config_out from the
// configuration Secret as the config-reloader does. It does not reload
// Prometheus: see Sync.
func (s *Server) Write(ctx context.Context) error {
	for _, m := range s.mounts {
		if err := s.writeVolume(ctx, m); err != nil {
			return fmt.Errorf("volume %s at %s: %w", m.volume.Name, m.path, err)
		}
	}
	sec, err := s.kube.CoreV1().Secrets(s.Namespace).Get(ctx, s.configSecret(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(sec.Data["prometheus.yaml.gz"]))
	if err != nil {
		return fmt.Errorf("secret %s, prometheus.yaml.gz: %w", s.configSecret(), err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	// What the config-reloader does: expand $(VAR) from its environment.
	raw = []byte(strings.NewReplacer("$(POD_NAME)", s.Pod.Name, "$(SHARD)", "0").Replace(string(raw)))
	conf, rewritten, err := s.rewriteConfig(raw)
	if err != nil {
		return err
	}
	s.Rewritten = rewritten
	out := s.local("/etc/prometheus/config_out/prometheus.env.yaml")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, "generated.yaml"), raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(out, conf, 0o644)
}

// GeneratedConfig is the configuration the operator generated, as last
// written (before the paths were moved).
func (s *Server) GeneratedConfig() string {
	data, err := os.ReadFile(filepath.Join(s.opts.Dir, "generated.yaml"))
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// ConfigFile is the configuration file Prometheus runs with.
func (s *Server) ConfigFile() string {
	return s.local("/etc/prometheus/config_out/prometheus.env.yaml")
}

// writeVolume writes one volume's files (whole folders are replaced, so a
// rule file the operator dropped goes too).
func (s *Server) writeVolume(ctx context.Context, m mount) error {
	files := map[string][]byte{}
	v := m.volume
	switch {
	case v.EmptyDir != nil:
		return os.MkdirAll(m.local, 0o755)
	case v.Secret != nil:
		sec, err := s.kube.CoreV1().Secrets(s.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if optionalMissing(err, v.Secret.Optional) {
			break
		}
		if err != nil {
			return err
		}
		for k, d := range sec.Data {
			files[k] = d
		}
	case v.ConfigMap != nil:
		// The operator mounts more rule-file ConfigMaps than it has written
		// (optional), so that new ones need no new pod.
		cm, err := s.kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
		if optionalMissing(err, v.ConfigMap.Optional) {
			break
		}
		if err != nil {
			return err
		}
		for k, d := range cm.Data {
			files[k] = []byte(d)
		}
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if err := s.project(ctx, src, files); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("volume source not supported")
	}
	if m.key != "" {
		// A subPath mount is one file.
		if err := os.MkdirAll(filepath.Dir(m.local), 0o755); err != nil {
			return err
		}
		return os.WriteFile(m.local, files[m.key], 0o600)
	}
	tmp := m.local + ".new"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for k, d := range files {
		if err := os.WriteFile(filepath.Join(tmp, k), d, 0o600); err != nil {
			return err
		}
	}
	_ = os.RemoveAll(m.local)
	return os.Rename(tmp, m.local)
}

// project adds the files of one source of a projected volume: the operator's
// TLS-asset Secrets, and the ServiceAccount volume the API server's
// ServiceAccount admission adds to every pod (a token bound to the pod from
// the TokenRequest API, as the kubelet requests it, the kube-root-ca.crt
// ConfigMap and the namespace).
func (s *Server) project(ctx context.Context, src corev1.VolumeProjection, files map[string][]byte) error {
	switch {
	case src.Secret != nil:
		sec, err := s.kube.CoreV1().Secrets(s.Namespace).Get(ctx, src.Secret.Name, metav1.GetOptions{})
		if optionalMissing(err, src.Secret.Optional) {
			return nil
		}
		if err != nil {
			return err
		}
		for k, d := range sec.Data {
			files[k] = d
		}
		for _, it := range src.Secret.Items {
			files[it.Path] = sec.Data[it.Key]
		}
	case src.ConfigMap != nil:
		cm, err := s.kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, src.ConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, it := range src.ConfigMap.Items {
			files[it.Path] = []byte(cm.Data[it.Key])
		}
		if len(src.ConfigMap.Items) == 0 {
			for k, d := range cm.Data {
				files[k] = []byte(d)
			}
		}
	case src.ServiceAccountToken != nil:
		tr, err := s.kube.CoreV1().ServiceAccounts(s.Namespace).CreateToken(ctx, s.Pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{
				Audiences:         slices.DeleteFunc([]string{src.ServiceAccountToken.Audience}, func(a string) bool { return a == "" }),
				ExpirationSeconds: src.ServiceAccountToken.ExpirationSeconds,
				BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: s.Pod.Name, UID: s.Pod.UID},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("token for %s/%s: %w", s.Namespace, s.Pod.Spec.ServiceAccountName, err)
		}
		files[src.ServiceAccountToken.Path] = []byte(tr.Status.Token)
	case src.DownwardAPI != nil:
		for _, it := range src.DownwardAPI.Items {
			if it.FieldRef == nil || it.FieldRef.FieldPath != "metadata.namespace" {
				return fmt.Errorf("downward API item %s not supported", it.Path)
			}
			files[it.Path] = []byte(s.Namespace)
		}
	default:
		return errors.New("projected volume source not supported")
	}
	return nil
}

// optionalMissing says whether err is the absence of an optional source:
// the kubelet then mounts an empty folder.
func optionalMissing(err error, optional *bool) bool {
	return apierrors.IsNotFound(err) && optional != nil && *optional
}

// movePath returns p under Dir if p is in one of the container's mounts
// other than the ServiceAccount's (which Prometheus finds at its in-pod
// path).
func (s *Server) movePath(p string) (string, bool) {
	for _, m := range s.mounts {
		if m.path == saDir {
			continue
		}
		if p == m.path || strings.HasPrefix(p, strings.TrimSuffix(m.path, "/")+"/") {
			return filepath.Join(m.local, strings.TrimPrefix(p, m.path)), true
		}
	}
	return "", false
}

// rewriteConfig moves every string of the configuration that is a path in
// one of the container's mounts under Dir; nothing else changes.
func (s *Server) rewriteConfig(raw []byte) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("the generated configuration: %w", err)
	}
	var rewritten []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if to, ok := s.movePath(n.Value); ok {
				rewritten = append(rewritten, n.Value+" -> "+to)
				n.Value = to
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), rewritten, enc.Close()
}

// args are the pod's prometheus container's arguments with the paths in its
// mounts moved under Dir and the web port set.
func (s *Server) args() ([]string, error) {
	c := s.container()
	var args []string
	listen := false
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		name, value, ok := strings.Cut(a, "=")
		if !ok || !strings.HasPrefix(name, "--") {
			args = append(args, a)
			continue
		}
		if name == "--web.listen-address" {
			listen = true
			value = ":" + strconv.Itoa(s.opts.Port)
		} else if to, moved := s.movePath(value); moved {
			s.Rewritten = append(s.Rewritten, a+" -> "+to)
			value = to
		}
		args = append(args, name+"="+value)
	}
	if !listen {
		args = append(args, "--web.listen-address=:"+strconv.Itoa(s.opts.Port))
	}
	if !slices.Contains(args, "--web.enable-lifecycle") {
		return nil, fmt.Errorf("pod %s: prometheus runs without --web.enable-lifecycle, it could not be reloaded", s.Pod.Name)
	}
	return args, nil
}

// startRelay listens on the loopback of the Prometheus host's namespace and
// forwards every connection to the API server, as the kubernetes Service
// does for a pod.
func (s *Server) startRelay() error {
	u, err := url.Parse(s.opts.Admin.Host)
	if err != nil {
		return err
	}
	target := u.Host
	err = netns.Run(s.opts.Host.Path(), func() error {
		var err error
		s.relay, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	})
	if err != nil {
		return fmt.Errorf("relay to the API server: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			in, err := s.relay.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = in.Close() }()
				out, err := net.DialTimeout("tcp", target, 5*time.Second)
				if err != nil {
					return
				}
				defer func() { _ = out.Close() }()
				done := make(chan struct{}, 2)
				cp := func(dst, src net.Conn) {
					_, _ = io.Copy(dst, src)
					if tc, ok := dst.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
					}
					done <- struct{}{}
				}
				go cp(out, in)
				go cp(in, out)
				<-done
				<-done
			}()
		}
	}()
	return nil
}

// waitReady waits up to a minute for /-/ready.
func (s *Server) waitReady(ctx context.Context) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if s.Process.Exited() {
			return false, fmt.Errorf("prometheus exited:\n%s", s.Process.Output())
		}
		code, body, err := s.do(ctx, http.MethodGet, "/-/ready")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("HTTP %d: %s", code, body)
		return code == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("prometheus %s/%s not ready (%s): %w", s.Namespace, s.Name, last, err)
	}
	return nil
}

func (s *Server) do(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// Sync writes the operator's current configuration and rule files (Write)
// and has Prometheus reload them (POST /-/reload, as the config-reloader
// does); it fails if Prometheus refuses them.
func (s *Server) Sync(ctx context.Context) error {
	if err := s.Write(ctx); err != nil {
		return err
	}
	code, body, err := s.do(ctx, http.MethodPost, "/-/reload")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("prometheus %s/%s refused the reload: HTTP %d: %s", s.Namespace, s.Name, code, body)
	}
	return nil
}

// URL is Prometheus's base URL in its network namespace.
func (s *Server) URL() string { return s.base }

// API is a client of Prometheus's HTTP API.
func (s *Server) API() promv1.API { return s.api }

// Query runs an instant PromQL query now and returns its vector (a scalar
// comes back as a vector of one sample without labels).
func (s *Server) Query(ctx context.Context, promql string) (model.Vector, error) {
	v, _, _, err := s.api.Query(ctx, promql, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", promql, err)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("%s: a %s, not a vector", promql, v.Type())
	}
}

// Value runs a query expected to return exactly one sample and returns its
// value.
func (s *Server) Value(ctx context.Context, promql string) (float64, error) {
	v, err := s.Query(ctx, promql)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s: %d samples, not 1: %s", promql, len(v), v)
	}
	return float64(v[0].Value), nil
}

// Targets returns the active targets of the scrape pools whose name starts
// with poolPrefix (all if "").
func (s *Server) Targets(ctx context.Context, poolPrefix string) ([]promv1.ActiveTarget, error) {
	res, err := s.api.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []promv1.ActiveTarget
	for _, t := range res.Active {
		if strings.HasPrefix(t.ScrapePool, poolPrefix) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Rules returns the rule groups Prometheus has loaded.
func (s *Server) Rules(ctx context.Context) ([]promv1.RuleGroup, error) {
	res, err := s.api.Rules(ctx, nil)
	if err != nil {
		return nil, err
	}
	return res.Groups, nil
}

// Stop stops Prometheus and the relay.
func (s *Server) Stop() {
	if s.Process != nil {
		s.Process.Stop()
	}
	if s.relay != nil {
		_ = s.relay.Close()
		s.wg.Wait()
	}
}
