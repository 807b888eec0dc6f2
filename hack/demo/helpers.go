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

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gpillon/kubevirt-wol/internal/testenv/netlab"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func sampleVM(ns, name, mac string, strategy kubevirtv1.VirtualMachineRunStrategy) *kubevirtv1.VirtualMachine {
	opts := []vmfixture.Option{vmfixture.RunStrategy(strategy)}
	if mac != "" {
		opts = append(opts, vmfixture.MACs(mac))
	}
	return vmfixture.New(ns, name, opts...)
}

func runStrategyOf(ctx context.Context, c client.Client, ns, name string) kubevirtv1.VirtualMachineRunStrategy {
	v := &kubevirtv1.VirtualMachine{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, v); err != nil || v.Spec.RunStrategy == nil {
		return ""
	}
	return *v.Spec.RunStrategy
}

// sendMagic sends the packet with Debian's wakeonlan when it is installed,
// else with a few lines of Go, and returns what it ran.
func sendMagic(lan *netlab.LAN, port int, mac string) (string, error) {
	if lan != nil {
		out, err := lan.Exec("sender", "wakeonlan", "-i", netlab.Broadcast.String(), "-p", fmt.Sprint(port), mac)
		if err != nil {
			return "", fmt.Errorf("%w (apt-get install wakeonlan)", err)
		}
		return fmt.Sprintf(
			"ip netns exec %s wakeonlan -i %s %s   # %s",
			lan.Host("sender").NS,
			netlab.Broadcast,
			mac,
			strings.TrimSpace(out),
		), nil
	}
	if path, err := exec.LookPath("wakeonlan"); err == nil {
		out, err := exec.Command(path, "-i", "127.0.0.1", "-p", fmt.Sprint(port), mac).CombinedOutput()
		return fmt.Sprintf("wakeonlan -i 127.0.0.1 -p %d %s   # %s", port, mac, strings.TrimSpace(string(out))), err
	}
	m, err := wol.ParseMAC(mac)
	if err != nil {
		return "", err
	}
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write(wol.AppendMagic(nil, m, nil)); err != nil {
		return "", err
	}
	return fmt.Sprintf(
		"(wakeonlan is not installed: sent the same 102-byte magic packet from Go to 127.0.0.1:%d)",
		port,
	), nil
}

// metricsToken returns a token for a ServiceAccount bound to the operator's
// metrics-reader ClusterRole, as Prometheus would have.
func metricsToken(ctx context.Context, c client.Client, admin *rest.Config) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "demo-prometheus"}}
	if err := c.Create(ctx, sa); err != nil {
		return "", err
	}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubevirt-wol-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNS, Name: sa.Name}},
	}); err != nil {
		return "", err
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return "", err
	}
	tr, err := kube.CoreV1().ServiceAccounts(operatorNS).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
