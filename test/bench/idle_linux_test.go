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

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/controller"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/internal/testenv/apirecorder"
	"github.com/gpillon/kubevirt-wol/internal/testenv/metrictest"
)

const (
	idleVMs        = 1000
	idleNamespaces = 10
	// idleChurn is how long the VMs churn; figures are per minute.
	idleChurn = time.Minute
	// idleRate is the VM writes per second of the churn: each of the 1,000
	// VMs changes about three times a minute in each of the two ways.
	idleRate          = 100
	operatorNamespace = "kubevirt-wol-system"
	operatorSA        = "kubevirt-wol-controller-manager"
)

// BenchmarkIdleCost is figure 5 of `make bench`: the API writes the operator
// makes while 1,000 VirtualMachines churn in ways that change no
// WolConfig's result.
//
// The operator is built as cmd/manager builds it (controller.NewOperator
// with the production defaults: leader election on, 1 s debounce, 1 min
// discovery) and runs in this process as its ServiceAccount, bound to the
// ClusterRole generated into config/rbac/role.yaml and the leader-election
// Role, against envtest; every request it makes goes through a counting
// transport, and every verb but GET counts as a write (the Lease renewals
// of leader election apart). Two WolConfigs cover the fleet: one in LabelSelector mode
// (wake=yes) over half the namespaces, one in All mode over the other half;
// their listener Deployments are marked ready, and the operator is left to
// become idle (no write for 5 s) before the churn starts.
//
// The churn, for idleChurn at idleRate writes per second from 4 clients,
// alternates two kinds of VM writes: a merge patch of a label outside the
// selector (and an annotation), and a status update (printableStatus and
// a condition). The operator's writes are counted from the start of the
// churn to 5 s after its end (debounced reconciles included). To show the
// counter works, one VM then leaves the selector, which must make the
// operator write the WolConfig's status; the benchmark fails otherwise.
//
// Reported: writes/min (operator writes per minute of churn, target 0),
// vm-writes/min (the churn's writes per minute, the baseline),
// lease-writes/min (leader election's Lease renewals, which happen whatever
// the VMs do) and reconciles/min (reconciles during the churn).
func BenchmarkIdleCost(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := startEnv(b, false)
	admin := crClient(b, cfg)
	c := newClients(b, fixtureConfig(cfg))
	fast := crClient(b, fixtureConfig(cfg))

	// The operator's identity and RBAC, as in the controller tests.
	c.namespaces(b, ctx, operatorNamespace)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(data, role); err != nil {
		b.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "leader_election_role.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	leRole := &rbacv1.Role{}
	if err := yaml.UnmarshalStrict(data, leRole); err != nil {
		b.Fatal(err)
	}
	leRole.Namespace = operatorNamespace
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: operatorSA, Namespace: operatorNamespace}},
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "manager-rolebinding"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: operatorSA, Namespace: operatorNamespace}},
		},
		leRole,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "leader-election-rolebinding", Namespace: operatorNamespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: leRole.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: operatorSA, Namespace: operatorNamespace}},
		},
	} {
		if err := admin.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}

	var selected, all []string
	for n := range idleNamespaces {
		name := fmt.Sprintf("idle-%d", n)
		c.namespaces(b, ctx, name)
		if n < idleNamespaces/2 {
			selected = append(selected, name)
		} else {
			all = append(all, name)
		}
	}
	vms := make([]*kubevirtv1.VirtualMachine, idleVMs)
	for i := range vms {
		vms[i] = benchVM(fmt.Sprintf("idle-%d", i%idleNamespaces), fmt.Sprintf("vm-%04d", i), benchMAC(0x1d, i),
			map[string]string{"wake": "yes", "tier": fmt.Sprint(i % 3)})
	}
	createVMs(b, ctx, c.kv, vms)
	wcs := []*wolv1beta1.WolConfig{
		{ObjectMeta: metav1.ObjectMeta{Name: "selected"}, Spec: wolv1beta1.WolConfigSpec{
			DiscoveryMode:      wolv1beta1.DiscoveryModeLabelSelector,
			NamespaceSelectors: selected,
			VMSelector:         &metav1.LabelSelector{MatchLabels: map[string]string{"wake": "yes"}},
			WolPorts:           []int32{9},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: wolv1beta1.WolConfigSpec{
			DiscoveryMode:      wolv1beta1.DiscoveryModeAll,
			NamespaceSelectors: all,
			WolPorts:           []int32{7},
			// Both listeners run on every node: each needs its own metrics port.
			Listener: wolv1beta1.ListenerSpec{MetricsPort: ptr.To[int32](9848)},
		}},
	}
	for _, wc := range wcs {
		if err := admin.Create(ctx, wc); err != nil {
			b.Fatal(err)
		}
	}

	op := startOperator(b, ctx, cfg)
	managed := func(name string) int32 {
		wc := &wolv1beta1.WolConfig{}
		if err := admin.Get(ctx, client.ObjectKey{Name: name}, wc); err != nil {
			return -1
		}
		return wc.Status.ManagedVMs
	}
	for _, wc := range wcs {
		if !waitFor(60*time.Second, 100*time.Millisecond, func() bool { return managed(wc.Name) == idleVMs/2 }) {
			b.Fatalf("WolConfig %s manages %d VMs, want %d", wc.Name, managed(wc.Name), idleVMs/2)
		}
		d := &appsv1.Deployment{}
		key := client.ObjectKey{Namespace: operatorNamespace, Name: controller.ListenerName(wc)}
		if !waitFor(30*time.Second, 100*time.Millisecond, func() bool { return admin.Get(ctx, key, d) == nil }) {
			got := &wolv1beta1.WolConfig{}
			_ = admin.Get(ctx, client.ObjectKey{Name: wc.Name}, got)
			b.Fatalf("no Deployment %s; WolConfig status: %+v", key, got.Status)
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas, UpdatedReplicas: *d.Spec.Replicas,
			ReadyReplicas: *d.Spec.Replicas, AvailableReplicas: *d.Spec.Replicas,
		}
		if err := admin.Status().Update(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	last := op.writes.Load()
	quiet := time.Now()
	if !waitFor(2*time.Minute, 250*time.Millisecond, func() bool {
		if now := op.writes.Load(); now != last {
			last, quiet = now, time.Now()
		}
		return time.Since(quiet) >= 5*time.Second
	}) {
		b.Fatal("the operator did not become idle within 2 minutes")
	}

	// The churn.
	w0, l0, r0 := op.writes.Load(), op.lease.Load(), reconciles(b)
	var vmWrites atomic.Int64
	var churnErr atomic.Pointer[error]
	tick := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k := range tick {
				// A fresh object: Patch decodes the answer into it.
				src := vms[(k/2)%idleVMs]
				vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: src.Namespace, Name: src.Name}}
				var err error
				if k%2 == 0 {
					patch := fmt.Sprintf(`{"metadata":{"labels":{"churn":"%d"},"annotations":{"churned-at":"%d"}}}`, k, time.Now().UnixNano())
					err = fast.Patch(ctx, vm, client.RawPatch(types.MergePatchType, []byte(patch)))
				} else {
					status := "Stopped"
					if (k/2/idleVMs)%2 == 0 {
						status = "Provisioning"
					}
					patch := fmt.Sprintf(`{"status":{"printableStatus":%q,"conditions":[{"type":"Ready","status":"False","reason":"Churn%d"}]}}`, status, k)
					err = fast.Status().Patch(ctx, vm, client.RawPatch(types.MergePatchType, []byte(patch)))
				}
				if err != nil {
					churnErr.CompareAndSwap(nil, &err)
					continue
				}
				vmWrites.Add(1)
			}
		})
	}
	start := time.Now()
	for k := 0; time.Since(start) < idleChurn; k++ {
		time.Sleep(time.Until(start.Add(time.Duration(k) * time.Second / idleRate)))
		tick <- k
	}
	close(tick)
	wg.Wait()
	churned := time.Since(start)
	if p := churnErr.Load(); p != nil {
		b.Fatalf("churn: %v", *p)
	}
	time.Sleep(5 * time.Second) // debounced reconciles
	opWrites, leaseWrites, opReconciles := op.writes.Load()-w0, op.lease.Load()-l0, reconciles(b)-r0

	// The counter must see a change that matters.
	leaving := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: vms[0].Namespace, Name: vms[0].Name}} // selected
	if err := fast.Patch(ctx, leaving, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"wake":"no"}}}`))); err != nil {
		b.Fatal(err)
	}
	if !waitFor(30*time.Second, 100*time.Millisecond, func() bool { return managed("selected") == idleVMs/2-1 }) ||
		op.writes.Load() == w0+opWrites {
		b.Fatal("the operator did not write the status of a WolConfig whose result changed: the write counter is not measuring")
	}

	minutes := churned.Minutes()
	b.Logf("churn: %d VM writes in %s; operator: %d writes, %d Lease renewals, %.0f reconciles", vmWrites.Load(),
		churned.Round(time.Millisecond), opWrites, leaseWrites, opReconciles)
	b.ReportMetric(float64(opWrites)/minutes, "writes/min")
	b.ReportMetric(float64(leaseWrites)/minutes, "lease-writes/min")
	b.ReportMetric(float64(vmWrites.Load())/minutes, "vm-writes/min")
	b.ReportMetric(float64(opReconciles)/minutes, "reconciles/min")
	b.ReportMetric(0, "ns/op")
}

// opCounter counts the operator's writes (every verb but GET), with the
// leader election Lease's renewals apart.
type opCounter struct{ writes, lease atomic.Int64 }

// startOperator runs the operator, built by controller.NewOperator with
// the production defaults (leader election on), as its ServiceAccount until
// ctx is done.
func startOperator(b *testing.B, ctx context.Context, adminCfg *rest.Config) *opCounter {
	b.Helper()
	cfg := testenv.Impersonate(adminCfg, operatorNamespace, operatorSA)
	n := &opCounter{}
	rec := apirecorder.New()
	rec.Record(false)
	rec.Hook = func(c apirecorder.Call) {
		switch {
		case !c.Write():
		case strings.Contains(c.Path, "/leases/") || strings.HasSuffix(c.Path, "/leases"):
			n.lease.Add(1)
		default:
			n.writes.Add(1)
		}
	}
	cfg = rec.Config(cfg)
	mgr, err := controller.NewOperator(cfg, controller.OperatorOptions{
		Namespace:                     operatorNamespace,
		ListenerImage:                 "quay.io/kubevirt-wol/kubevirt-wol:bench",
		MetricsAddr:                   "0",
		ProbeAddr:                     "0",
		LeaderElection:                true,
		LeaderElectionReleaseOnCancel: true,
		SkipNameValidation:            true,
	})
	if err != nil {
		b.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	b.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("operator: %v", err)
		}
	})
	return n
}

// reconciles returns how many times the WolConfig controller has reconciled
// in this process.
func reconciles(b *testing.B) float64 {
	b.Helper()
	return metrictest.Value(ctrlmetrics.Registry, "controller_runtime_reconcile_total")
}
