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
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// APIs are the optional APIs the operator uses when the cluster serves them.
type APIs struct {
	// OpenShift: security.openshift.io/v1 SecurityContextConstraints.
	OpenShift bool
	// Monitoring: monitoring.coreos.com/v1 ServiceMonitors.
	Monitoring bool
	// PrometheusRules: monitoring.coreos.com/v1 PrometheusRules.
	PrometheusRules bool
	// KubeVirt: kubevirt.io/v1 VirtualMachines (a prerequisite; without it
	// no VM is in scope and the listeners cannot become ready).
	KubeVirt bool
}

// ClusterInfo finds the optional APIs by discovery, at start-up and then
// periodically, so that installing (or removing) the Prometheus Operator or
// running on OpenShift is noticed without restarting the operator.
type ClusterInfo struct {
	disc     discovery.DiscoveryInterface
	interval time.Duration
	log      logr.Logger

	mu        sync.RWMutex
	apis      APIs
	probed    bool
	listeners []func(APIs)
}

// NewClusterInfo returns a ClusterInfo that asks disc every interval.
func NewClusterInfo(disc discovery.DiscoveryInterface, interval time.Duration, log logr.Logger) *ClusterInfo {
	return &ClusterInfo{disc: disc, interval: interval, log: log}
}

// APIs returns what the last probe found.
func (c *ClusterInfo) APIs() APIs {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.apis
}

// OnChange registers f to be called with the new APIs after a probe finds
// a change (and after the first probe).
func (c *ClusterInfo) OnChange(f func(APIs)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, f)
}

// Refresh probes discovery once and notifies the OnChange functions if the
// answer changed.
func (c *ClusterInfo) Refresh() error {
	openShift, err := c.serves(securityv1.GroupVersion.String(), "securitycontextconstraints")
	if err != nil {
		return err
	}
	monitoring, err := c.serves(monitoringv1.SchemeGroupVersion.String(), monitoringv1.ServiceMonitorName)
	if err != nil {
		return err
	}
	rules, err := c.serves(monitoringv1.SchemeGroupVersion.String(), monitoringv1.PrometheusRuleName)
	if err != nil {
		return err
	}
	kubevirt, err := c.serves(kubevirtv1.SchemeGroupVersion.String(), "virtualmachines")
	if err != nil {
		return err
	}
	now := APIs{OpenShift: openShift, Monitoring: monitoring, PrometheusRules: rules, KubeVirt: kubevirt}

	c.mu.Lock()
	changed := !c.probed || now != c.apis
	c.apis, c.probed = now, true
	listeners := slices.Clone(c.listeners)
	c.mu.Unlock()

	if changed {
		c.log.Info("Optional APIs discovered",
			"securityContextConstraints", now.OpenShift, "serviceMonitors", now.Monitoring,
			"prometheusRules", now.PrometheusRules,
			"kubevirtVirtualMachines", now.KubeVirt)
		for _, f := range listeners {
			f(now)
		}
	}
	return nil
}

// serves reports whether groupVersion is served with the resource. A group
// version that is not served at all is a NotFound from discovery, not an
// error.
func (c *ClusterInfo) serves(groupVersion, resource string) (bool, error) {
	list, err := c.disc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// Start probes every interval until ctx is done. It implements
// manager.Runnable; a failed probe is logged and retried at the next tick.
func (c *ClusterInfo) Start(ctx context.Context) error {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.Refresh(); err != nil {
				c.log.Error(err, "Discovery of optional APIs failed")
			}
		}
	}
}
