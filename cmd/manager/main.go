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

// Command manager runs the kubevirt-wol operator: it reconciles WolConfig
// objects into listener Deployments and everything they need.
package main

import (
	"flag"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gpillon/kubevirt-wol/internal/controller"
)

var setupLog = ctrl.Log.WithName("setup")

func main() {
	o := controller.OperatorOptions{}
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or 0 to disable the metrics endpoint.")
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081",
		"The address the health and readiness probes bind to.")
	flag.BoolVar(&o.LeaderElection, "leader-elect", true,
		"Elect a leader so that only one operator replica reconciles at a time.")
	flag.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a replica waits, after the leader stopped renewing, before it takes over.")
	flag.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew its lease before it gives up leadership.")
	flag.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the lease.")
	flag.BoolVar(&o.SecureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, only to callers authenticated and authorized by the API server.")
	flag.BoolVar(&o.EnableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs).")
	flag.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"),
		"The operator's namespace, where listeners run (default: $POD_NAMESPACE).")
	flag.StringVar(&o.ListenerImage, "listener-image", os.Getenv("RELATED_IMAGE_LISTENER"),
		"The listener image used when a WolConfig does not set one (default: $RELATED_IMAGE_LISTENER).")
	flag.DurationVar(&o.DiscoveryInterval, "discovery-interval", time.Minute,
		"How often to look for optional APIs (OpenShift SCCs, ServiceMonitors, PrometheusRules, KubeVirt) "+
			"appearing or going away.")
	prometheusRules := flag.Bool("prometheus-rules", true,
		"Create a PrometheusRule with the listener alerts for each WolConfig when monitoring.coreos.com/v1 PrometheusRules "+
			"are served. false: create none and delete those created before (the alerts are installed another way, "+
			"e.g. by the Helm chart's prometheusRule.enabled).")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	o.DisablePrometheusRules = !*prometheusRules

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	// The process exits as soon as the manager stops, so the lease can be
	// released at once and another replica takes over without waiting.
	o.LeaderElectionReleaseOnCancel = true

	mgr, err := controller.NewOperator(ctrl.GetConfigOrDie(), o)
	if err != nil {
		setupLog.Error(err, "Cannot set up the operator")
		os.Exit(1)
	}
	setupLog.Info("Starting manager", "namespace", o.Namespace, "leaderElection", o.LeaderElection)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}
