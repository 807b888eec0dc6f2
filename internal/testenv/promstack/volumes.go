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

// The pod's volumes laid out in a folder as the kubelet would mount them,
// and the in-pod paths of the arguments and configuration moved there.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// saDir is where a pod finds its ServiceAccount's token and the cluster's
// CA, and where client-go's in-cluster configuration reads them.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// mount is one volume mount of the prometheus container.
type mount struct {
	path   string // in the pod
	local  string // under Dir
	volume *corev1.Volume
	key    string // subPath
}

func (s *Server) local(inPod string) string { return filepath.Join(s.opts.Dir, "pod", inPod) }

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
	return writeAtomic(m.local, files)
}

// writeAtomic lays files out in dir as the kubelet's atomic writer does for
// a Secret, ConfigMap or projected volume: the files in a new hidden
// folder, the "..data" link swapped to it in one rename, and each visible
// name a link through "..data". dir itself stays the same folder, so a bind
// mount of it (the ServiceAccount folder) sees every update, and a reader
// never sees half of one.
func writeAtomic(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	version, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	visible := map[string]bool{}
	for k, d := range files {
		p := filepath.Join(version, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, d, 0o600); err != nil {
			return err
		}
		visible[strings.SplitN(k, "/", 2)[0]] = true
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(version), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "..data" || name == filepath.Base(version):
		case strings.HasPrefix(name, ".."):
			_ = os.RemoveAll(filepath.Join(dir, name)) // an earlier version
		case !visible[name]:
			_ = os.Remove(filepath.Join(dir, name)) // a name no longer in the volume
		}
	}
	for name := range visible {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return err
		}
	}
	return nil
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
