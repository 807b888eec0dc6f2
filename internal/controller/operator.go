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
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// LeaderElectionID names the Lease, in the operator's namespace, that
// operator replicas compete for; only its holder reconciles.
const LeaderElectionID = "kubevirt-wol.wol.pillon.org"

// OperatorOptions configure the operator's manager (see NewOperator). Zero
// durations mean controller-runtime's defaults.
type OperatorOptions struct {
	// Namespace is the operator's namespace, where the listeners run and the
	// leader election Lease lives. Required.
	Namespace string
	// ListenerImage is the default listener image. Required.
	ListenerImage string
	// MetricsAddr is the metrics endpoint's address ("0" disables it).
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS to callers the API server
	// authenticates and authorizes (TokenReview and SubjectAccessReview).
	SecureMetrics bool
	// EnableHTTP2 allows HTTP/2 on the metrics endpoint (off: rapid reset
	// CVEs).
	EnableHTTP2 bool
	// ProbeAddr is the address of /healthz and /readyz ("0" disables them).
	ProbeAddr string
	// LeaderElection makes replicas elect a leader; only it reconciles.
	LeaderElection bool
	// LeaderElectionReleaseOnCancel gives the Lease up when the manager stops,
	// so that another replica takes over at once instead of after
	// LeaseDuration. Only safe when the process exits right after.
	LeaderElectionReleaseOnCancel bool
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// DiscoveryInterval is how often optional APIs are looked for (default
	// one minute).
	DiscoveryInterval time.Duration
	// Debounce delays re-evaluations after VM changes (DefaultDebounce if 0).
	Debounce time.Duration
	// DisablePrometheusRules: create no PrometheusRule with the listener
	// alerts, and delete those created before (see WolConfigReconciler).
	DisablePrometheusRules bool
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
}

// NewScheme returns the scheme of every kind the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, kubevirtv1.AddToScheme, securityv1.AddToScheme,
		monitoringv1.AddToScheme, wolv1beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

// NewOperator builds the operator's manager as cmd/manager runs it: the
// WolConfig controller, its narrowed cache, discovery of optional APIs
// (probed once before it returns, so the first reconciles know them), leader
// election and health checks. Start it with Start.
func NewOperator(cfg *rest.Config, o OperatorOptions) (ctrl.Manager, error) {
	if o.Namespace == "" {
		return nil, errors.New("the operator's namespace is unknown: set --namespace or $POD_NAMESPACE")
	}
	if o.ListenerImage == "" {
		return nil, errors.New("the listener image is unknown: set --listener-image or $RELATED_IMAGE_LISTENER")
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = time.Minute
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics, TLSOpts: tlsOpts}
	if o.SecureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: o.LeaderElectionReleaseOnCancel,
		Cache:                         CacheOptions(o.Namespace),
	}
	if o.SkipNameValidation {
		opts.Controller = config.Controller{SkipNameValidation: &o.SkipNameValidation}
	}
	for _, d := range []struct {
		v   time.Duration
		dst **time.Duration
	}{{o.LeaseDuration, &opts.LeaseDuration}, {o.RenewDeadline, &opts.RenewDeadline}, {o.RetryPeriod, &opts.RetryPeriod}} {
		if d.v > 0 {
			*d.dst = &d.v
		}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	info := NewClusterInfo(disc, o.DiscoveryInterval, mgr.GetLogger().WithName("discovery"))
	r := &WolConfigReconciler{
		Client:    mgr.GetClient(),
		Cache:     mgr.GetCache(),
		Namespace: o.Namespace,
		Image:     o.ListenerImage,
		Info:      info,
		Recorder:  mgr.GetEventRecorder("kubevirt-wol-operator"),
		Debounce:  o.Debounce,

		DisablePrometheusRules: o.DisablePrometheusRules,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the WolConfig controller: %w", err)
	}
	if err := info.Refresh(); err != nil {
		return nil, fmt.Errorf("discovering optional APIs: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	return mgr, nil
}
