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

// Command listener receives Wake-on-LAN magic packets on the node's network
// and starts the KubeVirt VirtualMachine that owns the target MAC address,
// for one WolConfig. The operator runs it as a Deployment; it can also run
// on any machine with a kubeconfig.
package main

import (
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerapp"
)

func main() {
	var opts listenerapp.Options
	flag.StringVar(&opts.WolConfig, "wolconfig", "", "Name of the WolConfig to serve (required).")
	flag.StringVar(&opts.NodeName, "node-name", os.Getenv("NODE_NAME"),
		"Name of this node, for events (default: $NODE_NAME).")
	flag.StringVar(&opts.Namespace, "namespace", os.Getenv("POD_NAMESPACE"),
		"The operator's namespace, where the Secret "+wolv1beta1.SecureOnSecretName+
			" holds a WolConfig-wide SecureOn password (default: $POD_NAMESPACE).")
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", fmt.Sprintf(":%d", wolv1beta1.DefaultMetricsPort),
		"Address of the HTTPS endpoint for /metrics (authenticated), /healthz and /readyz; 0 disables it.")
	flag.BoolVar(&opts.InsecureMetrics, "insecure-metrics", false,
		"Serve /metrics over plain HTTP without authentication. Only for development on a private machine.")
	flag.StringVar(&opts.NetNS, "netns", "",
		"Network namespace standing for the node's host network (e.g. /run/netns/node-1): packet sockets and the "+
			"metrics endpoint open there, API traffic stays in the process's. "+
			"For tests and demos that simulate nodes on one machine.")
	zo := zap.Options{}
	zo.BindFlags(flag.CommandLine)
	flag.Parse()

	log := zap.New(zap.UseFlagOptions(&zo))
	ctrllog.SetLogger(log)
	opts.Log = log

	cfg, err := config.GetConfig()
	if err != nil {
		log.Error(err, "Cannot reach the API server")
		os.Exit(1)
	}
	opts.RestConfig = cfg
	app, err := listenerapp.New(opts)
	if err != nil {
		log.Error(err, "Invalid options")
		os.Exit(2)
	}
	if err := app.Run(signals.SetupSignalHandler()); err != nil {
		log.Error(err, "Listener failed")
		os.Exit(1)
	}
}
