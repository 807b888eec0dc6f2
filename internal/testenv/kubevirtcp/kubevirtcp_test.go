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

package kubevirtcp_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubevirt"

	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/kubevirtcp"
	"github.com/gpillon/kubevirt-wol/internal/testenv/vmfixture"
)

// TestControlPlane brings real virt-api and virt-controller up on envtest's
// API server and checks the path every product test relies on: a start
// through the subresource API is accepted by virt-api, and virt-controller
// turns the started VirtualMachine into an instance and its launcher pod.
func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := kubevirtcp.New(tmpDir(t), kubevirtcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, admin, err := testenv.Start(testenv.Options{WithoutKubeVirt: true, APIServerArgs: cp.APIServerArgs()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	began := time.Now()
	if err := cp.Start(ctx, admin); err != nil {
		t.Fatal(err)
	}
	t.Logf("KubeVirt installed and ready in %s", time.Since(began).Round(time.Millisecond))
	defer cp.Stop()
	defer func() {
		if t.Failed() {
			t.Log(cp.Logs(60))
		}
	}()

	kv, err := kubevirt.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vms"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vm := vmfixture.New("vms", "smoke", vmfixture.RunStrategy(kubevirtv1.RunStrategyHalted), vmfixture.MACs("52:54:00:00:00:01"))
	if _, err := kv.KubevirtV1().VirtualMachines("vms").Create(ctx, vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kv.KubevirtV1().VirtualMachines("vms").Start(ctx, "smoke", &kubevirtv1.StartOptions{}); err != nil {
		t.Fatalf("start through virt-api: %v", err)
	}
	began = time.Now()
	var vmi *kubevirtv1.VirtualMachineInstance
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		vmi, err = kv.KubevirtV1().VirtualMachineInstances("vms").Get(ctx, "smoke", metav1.GetOptions{})
		return err == nil && vmi.Status.Phase == kubevirtv1.Scheduling, nil
	})
	if err != nil {
		t.Fatalf("no instance in phase Scheduling from virt-controller: %v (last %v)", err, vmi)
	}
	pods, err := kube.CoreV1().Pods("vms").List(ctx, metav1.ListOptions{LabelSelector: kubevirtv1.CreatedByLabel + "=" + string(vmi.UID)})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("virt-launcher pod: %v, %d pods", err, len(pods.Items))
	}
	t.Logf("VMI %s phase %s %s after the start, pod %s", vmi.Name, vmi.Status.Phase, time.Since(began).Round(time.Millisecond), pods.Items[0].Name)
}

// tmpDir is the harness's folder: a temporary one, or KUBEVIRTCP_KEEP (kept
// after the test, with virt-api's and virt-controller's logs) for debugging.
func tmpDir(t *testing.T) string {
	if d := os.Getenv("KUBEVIRTCP_KEEP"); d != "" {
		_ = os.RemoveAll(d)
		_ = os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}
