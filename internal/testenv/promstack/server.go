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

package promstack

// A Prometheus server run as the container of its pod: starting it, its
// arguments, the relay standing in for the kubernetes Service, stopping it.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

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
	relay  *cutproxy.Proxy
	client *http.Client
	base   string
	api    promv1.API
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
	_, relayPort, _ := net.SplitHostPort(s.relay.Addr())
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
	if s.relay, err = cutproxy.ListenIn(s.opts.Host.Path(), "127.0.0.1:0", u.Host); err != nil {
		return fmt.Errorf("relay to the API server: %w", err)
	}
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

// Stop stops Prometheus and the relay.
func (s *Server) Stop() {
	if s.Process != nil {
		s.Process.Stop()
	}
	if s.relay != nil {
		s.relay.Close()
	}
}
