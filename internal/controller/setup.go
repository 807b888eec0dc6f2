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

package controller

import (
	"context"
	"errors"

	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
)

// SetupWithManager registers the controller and its watches. Watches on
// ServiceMonitors, PrometheusRules, SecurityContextConstraints and
// VirtualMachines are added when discovery finds their API, at start-up or
// later.
func (r *WolConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Debounce == 0 {
		r.Debounce = DefaultDebounce
	}
	r.resync = make(chan event.GenericEvent, 16)
	r.watching = map[string]bool{}

	specChanged := predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	c, err := ctrl.NewControllerManagedBy(mgr).
		Named("wolconfig").
		For(&wolv1beta1.WolConfig{}, builder.WithPredicates(specChanged)).
		// Another WolConfig's ports may free or take this one's.
		Watches(&wolv1beta1.WolConfig{}, handler.EnqueueRequestsFromMapFunc(r.allWolConfigs),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		WatchesRawSource(source.Channel(r.resync, handler.EnqueueRequestsFromMapFunc(r.allWolConfigs))).
		Build(r)
	if err != nil {
		return err
	}
	r.controller = c

	r.Info.OnChange(func(apis APIs) {
		if err := r.watchOptionalAPIs(mgr, apis); err != nil {
			mgr.GetLogger().Error(err, "Cannot watch an optional API")
		}
		select {
		case r.resync <- event.GenericEvent{Object: &wolv1beta1.WolConfig{}}:
		default: // a resync is already pending
		}
	})
	return mgr.Add(r.Info)
}

// watchOptionalAPIs adds, once each, the watches of the optional APIs now
// served.
func (r *WolConfigReconciler) watchOptionalAPIs(mgr ctrl.Manager, apis APIs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	owner := func(obj client.Object) source.Source {
		return source.Kind(r.Cache, obj, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(),
			&wolv1beta1.WolConfig{}, handler.OnlyControllerOwner()))
	}
	var errs []error
	if apis.OpenShift && !r.watching["scc"] {
		if err := r.controller.Watch(owner(&securityv1.SecurityContextConstraints{})); err != nil {
			errs = append(errs, err)
		} else {
			r.watching["scc"] = true
		}
	}
	if apis.Monitoring && !r.watching["servicemonitor"] {
		if err := r.controller.Watch(owner(&monitoringv1.ServiceMonitor{})); err != nil {
			errs = append(errs, err)
		} else {
			r.watching["servicemonitor"] = true
		}
	}
	if apis.PrometheusRules && !r.watching["prometheusrule"] {
		if err := r.controller.Watch(owner(&monitoringv1.PrometheusRule{})); err != nil {
			errs = append(errs, err)
		} else {
			r.watching["prometheusrule"] = true
		}
	}
	if apis.KubeVirt && !r.watching["vm"] {
		if err := r.controller.Watch(source.Kind(r.Cache, &kubevirtv1.VirtualMachine{},
			&vmHandler{r: r})); err != nil {
			errs = append(errs, err)
		} else {
			r.watching["vm"] = true
		}
	}
	return errors.Join(errs...)
}

// allWolConfigs maps any event to a request for every WolConfig.
func (r *WolConfigReconciler) allWolConfigs(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &wolv1beta1.WolConfigList{}
	if err := r.List(ctx, list); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot list WolConfigs")
		return nil
	}
	reqs := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return reqs
}

// CacheOptions narrows the manager's cache to what the operator reads: its
// own Deployments, Services, ServiceAccounts, ClusterRoles,
// ClusterRoleBindings, Roles and RoleBindings (by the managed-by label;
// Deployments, Services and ServiceAccounts in the operator's namespace),
// and VirtualMachines stripped to what the index
// needs. Kinds whose API may be missing at start-up (KubeVirt, OpenShift,
// Prometheus Operator) cannot be narrowed by namespace or label here, because
// that needs their REST mapping; VirtualMachines are slimmed by the default
// transform instead, and the few SCCs, ServiceMonitors and PrometheusRules
// are cached whole.
func CacheOptions(namespace string) cache.Options {
	owned := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	inNamespace := map[string]cache.Config{namespace: {}}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:         {Namespaces: inNamespace, Label: owned},
			&corev1.Service{}:            {Namespaces: inNamespace, Label: owned},
			&corev1.ServiceAccount{}:     {Namespaces: inNamespace, Label: owned},
			&rbacv1.ClusterRole{}:        {Label: owned},
			&rbacv1.ClusterRoleBinding{}: {Label: owned},
			// SecureOn Roles and RoleBindings live in VM namespaces.
			&rbacv1.Role{}:        {Label: owned},
			&rbacv1.RoleBinding{}: {Label: owned},
		},
		DefaultTransform: slimObject,
	}
}

// slimObject strips VirtualMachines to what the index reads and drops
// managedFields from everything else.
func slimObject(obj any) (any, error) {
	if vm, ok := obj.(*kubevirtv1.VirtualMachine); ok {
		return vmindex.StripVM(vm)
	}
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}
