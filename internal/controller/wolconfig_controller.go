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

// Package controller reconciles WolConfig objects into the listener
// Deployment and everything it needs, and writes their status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

// Event reasons on WolConfigs (transitions only).
const (
	EventListenerReady    = "ListenerReady"
	EventListenerNotReady = "ListenerNotReady"
	EventPortConflict     = "PortConflict"
	EventApplyFailed      = "ApplyFailed"
)

// DefaultDebounce is how long VM changes are gathered before the WolConfigs
// they touch are re-evaluated.
const DefaultDebounce = time.Second

// WolConfigReconciler reconciles a WolConfig into its listener's objects and
// writes its status.
type WolConfigReconciler struct {
	client.Client
	// Cache is the manager's cache, for watches added when an optional API
	// appears.
	Cache cache.Cache
	// Namespace is the operator's namespace, where the listeners run.
	Namespace string
	// Image is the default listener image.
	Image string
	// Info reports the optional APIs.
	Info *ClusterInfo
	// Recorder emits events on WolConfigs.
	Recorder events.EventRecorder
	// Debounce delays the re-evaluation after VM changes (DefaultDebounce if 0).
	Debounce time.Duration
	// DisablePrometheusRules stops the operator from creating the listener
	// alerts (a PrometheusRule per WolConfig), and makes it delete those it
	// created: for installs that own the rules themselves (the Helm chart's
	// prometheusRule.enabled), so that no alert exists twice.
	DisablePrometheusRules bool

	controller controller.Controller
	resync     chan event.GenericEvent

	mu       sync.Mutex
	watching map[string]bool
}

// +kubebuilder:rbac:groups=wol.pillon.org,resources=wolconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=wol.pillon.org,resources=wolconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=wol.pillon.org,resources=wolconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// RBAC lets the operator grant only what it holds: to give a listener `get`
// on the SecureOn Secrets (by name, in the namespaces that need them) it
// holds that and nothing more on Secrets. It never reads them.
// +kubebuilder:rbac:groups="",resources=secrets,resourceNames=kubevirt-wol-secureon,verbs=get
// +kubebuilder:rbac:groups=security.openshift.io,resources=securitycontextconstraints,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=security.openshift.io,resources=securitycontextconstraints,verbs=use
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=prometheusrules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=kubevirt.io,resources=virtualmachines,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile applies the listener's objects for one WolConfig and writes its
// status once, only if it changed.
func (r *WolConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	wc := &wolv1beta1.WolConfig{}
	if err := r.Get(ctx, req.NamespacedName, wc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if wc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // owned objects go by garbage collection
	}

	apis := r.Info.APIs()
	p := Params{Namespace: r.Namespace, Image: r.Image, OpenShift: apis.OpenShift, Monitoring: apis.Monitoring,
		PrometheusRules: apis.PrometheusRules && !r.DisablePrometheusRules}

	all := &wolv1beta1.WolConfigList{}
	if err := r.List(ctx, all); err != nil {
		return ctrl.Result{}, err
	}
	var conflict *PortConflict
	if c, ok := FindPortConflict(wc, all.Items); ok {
		conflict = &c
	}

	in := statusInputs{conflict: conflict, now: metav1.Now()}
	var vmSecureOn []string
	if scope, err := vmindex.ScopeFromSpec(wc.Spec); err != nil {
		in.scopeErr = err
	} else {
		idx, err := r.evaluate(ctx, scope)
		if err != nil {
			return ctrl.Result{}, err
		}
		snap := idx.Snapshot(StatusListLimit)
		in.vms = &snap
		vmSecureOn = idx.SecureOnNamespaces()
	}
	secureOn := SecureOnNamespaces(wc, p, vmSecureOn)

	a := applier{c: r.Client}
	var applyErrs []error
	for _, obj := range desiredObjects(wc, p, conflict == nil, secureOn) {
		if sent, err := a.apply(ctx, obj); err != nil {
			applyErrs = append(applyErrs, err)
		} else if sent {
			log.Info("Applied owned object", "kind", kindOf(obj), "name", obj.GetName(), "namespace", obj.GetNamespace())
		}
	}
	desired := desiredObjects(wc, p, conflict == nil, secureOn)
	if err := r.pruneRBAC(ctx, a, wc, desired); err != nil {
		applyErrs = append(applyErrs, err)
	}
	if apis.PrometheusRules && !p.PrometheusRules {
		if err := r.prunePrometheusRule(ctx, a, wc); err != nil {
			applyErrs = append(applyErrs, err)
		}
	}

	deployment := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: r.Namespace, Name: ListenerName(wc)}
	if conflict != nil {
		if deleted, err := a.deleteIfExists(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
			applyErrs = append(applyErrs, err)
		} else if deleted {
			log.Info("Deleted listener Deployment of a WolConfig in port conflict", "with", conflict.With)
		}
		deployment = nil
	} else if err := r.Get(ctx, key, deployment); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		deployment = nil
	}

	in.deployment, in.applyErr = deployment, errors.Join(applyErrs...)
	status := computeStatus(wc, in)
	if !equality.Semantic.DeepEqual(status, wc.Status) {
		before := meta.FindStatusCondition(wc.Status.Conditions, wolv1beta1.ConditionReady)
		updated := wc.DeepCopy()
		updated.Status = status
		if err := r.Status().Update(ctx, updated); err != nil {
			return ctrl.Result{}, err
		}
		r.eventOnTransition(updated, before, meta.FindStatusCondition(status.Conditions, wolv1beta1.ConditionReady))
	}

	if in.applyErr != nil {
		return ctrl.Result{}, in.applyErr
	}
	if ttl := wc.Spec.CacheTTL; ttl != nil && *ttl > 0 {
		return ctrl.Result{RequeueAfter: time.Duration(*ttl) * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// pruneRBAC deletes the Roles, RoleBindings and ClusterRoleBindings wc owns
// that desired no longer has: SecureOn access in namespaces that no longer
// need it, VM access in namespaces that left the scope, the cluster-wide VM
// binding once the scope is a list of namespaces. A listener keeps no access
// it does not need.
func (r *WolConfigReconciler) pruneRBAC(ctx context.Context, a applier, wc *wolv1beta1.WolConfig, desired []client.Object) error {
	type key struct{ kind, namespace, name string }
	want := map[key]bool{}
	for _, obj := range desired {
		want[key{kindOf(obj), obj.GetNamespace(), obj.GetName()}] = true
	}
	owned := client.MatchingLabels{LabelInstance: wc.Name, LabelManagedBy: ManagedBy}
	type listed struct {
		kind string
		obj  client.Object
	}
	var objs []listed
	roles := &rbacv1.RoleList{}
	if err := r.List(ctx, roles, owned); err != nil {
		return err
	}
	for i := range roles.Items {
		objs = append(objs, listed{kindRole, &roles.Items[i]})
	}
	bindings := &rbacv1.RoleBindingList{}
	if err := r.List(ctx, bindings, owned); err != nil {
		return err
	}
	for i := range bindings.Items {
		objs = append(objs, listed{kindRoleBinding, &bindings.Items[i]})
	}
	clusterBindings := &rbacv1.ClusterRoleBindingList{}
	if err := r.List(ctx, clusterBindings, owned); err != nil {
		return err
	}
	for i := range clusterBindings.Items {
		objs = append(objs, listed{kindClusterRoleBinding, &clusterBindings.Items[i]})
	}
	var errs []error
	for _, l := range objs {
		obj := l.obj
		if want[key{l.kind, obj.GetNamespace(), obj.GetName()}] || !metav1.IsControlledBy(obj, wc) {
			continue
		}
		if _, err := a.deleteIfExists(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", l.kind, obj.GetNamespace(), obj.GetName(), err))
			continue
		}
		logf.FromContext(ctx).Info("Deleted access no longer needed", "kind", l.kind,
			"namespace", obj.GetNamespace(), "name", obj.GetName())
	}
	return errors.Join(errs...)
}

// prunePrometheusRule deletes the PrometheusRule wc owns, if any, when the
// operator is not to create one (DisablePrometheusRules): whoever runs it so
// installs the alerts another way, and they must not fire twice.
func (r *WolConfigReconciler) prunePrometheusRule(ctx context.Context, a applier, wc *wolv1beta1.WolConfig) error {
	rule := &monitoringv1.PrometheusRule{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: ListenerName(wc)}, rule); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(rule, wc) {
		return nil
	}
	if _, err := a.deleteIfExists(ctx, rule); err != nil {
		return fmt.Errorf("deleting PrometheusRule %s/%s: %w", rule.Namespace, rule.Name, err)
	}
	logf.FromContext(ctx).Info("Deleted the listener alerts: the operator is not to create them",
		"namespace", rule.Namespace, "name", rule.Name)
	return nil
}

// evaluate indexes the VirtualMachines in scope, from the cache.
func (r *WolConfigReconciler) evaluate(ctx context.Context, scope *vmindex.Scope) (*vmindex.Index, error) {
	var vms []kubevirtv1.VirtualMachine
	namespaces := []string{""}
	if !scope.AllNamespaces() {
		namespaces = scope.Namespaces()
	}
	for _, ns := range namespaces {
		list := &kubevirtv1.VirtualMachineList{}
		if err := r.List(ctx, list, client.InNamespace(ns)); err != nil {
			if meta.IsNoMatchError(err) {
				break // KubeVirt is not installed: no VM is in scope
			}
			return nil, err
		}
		vms = append(vms, list.Items...)
	}
	seq := func(yield func(*kubevirtv1.VirtualMachine) bool) {
		for i := range vms {
			if !yield(&vms[i]) {
				return
			}
		}
	}
	return vmindex.Build(scope, iter.Seq[*kubevirtv1.VirtualMachine](seq)), nil
}

// eventOnTransition records an event when the Ready condition changes.
func (r *WolConfigReconciler) eventOnTransition(wc *wolv1beta1.WolConfig, before, after *metav1.Condition) {
	if r.Recorder == nil || after == nil {
		return
	}
	if before != nil && before.Status == after.Status && before.Reason == after.Reason {
		return
	}
	switch {
	case after.Status == metav1.ConditionTrue:
		r.Recorder.Eventf(wc, nil, corev1.EventTypeNormal, EventListenerReady, "Reconcile", "%s", after.Message)
	case after.Reason == wolv1beta1.ReasonPortConflict:
		r.Recorder.Eventf(wc, nil, corev1.EventTypeWarning, EventPortConflict, "Reconcile", "%s", after.Message)
	case after.Reason == wolv1beta1.ReasonApplyFailed:
		r.Recorder.Eventf(wc, nil, corev1.EventTypeWarning, EventApplyFailed, "Reconcile", "%s", after.Message)
	default:
		r.Recorder.Eventf(wc, nil, corev1.EventTypeNormal, EventListenerNotReady, "Reconcile", "%s", after.Message)
	}
}
