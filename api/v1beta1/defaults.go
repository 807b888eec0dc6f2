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

package v1beta1

// Every default of the WolConfig API, in one place. The +kubebuilder:default
// markers on the fields must say the same (controller-gen reads only
// literals): TestDefaultsMatchMarkers creates an empty WolConfig on a real
// API server and checks that what the server defaults is exactly these. The
// listener's packet engine, the operator's builders and the listener's
// flags take their defaults from here.
const (
	// DefaultDiscoveryMode is spec.discoveryMode's default.
	DefaultDiscoveryMode = DiscoveryModeAll
	// DefaultWolPort is the one port of spec.wolPorts' default: 9, the usual
	// port of WoL tools.
	DefaultWolPort int32 = 9
	// DefaultCacheTTLSeconds is spec.cacheTTL's default: the VM index's
	// resynchronisation period.
	DefaultCacheTTLSeconds int32 = 300
	// DefaultDedupeWindowSeconds is spec.dedupeWindowSeconds' default.
	DefaultDedupeWindowSeconds int32 = 5
	// DefaultPerSourcePerMinute and DefaultPerSourceBurst are
	// spec.rateLimit's defaults for one source.
	DefaultPerSourcePerMinute int32 = 300
	DefaultPerSourceBurst     int32 = 20
	// DefaultGlobalPerMinute and DefaultGlobalBurst are spec.rateLimit's
	// defaults for all sources together.
	DefaultGlobalPerMinute int32 = 3000
	DefaultGlobalBurst     int32 = 100
	// DefaultWakeDeadlineSeconds is spec.wakeDeadlineSeconds' default.
	DefaultWakeDeadlineSeconds int32 = 60
	// DefaultListenerReplicas is spec.listener.replicas' default.
	DefaultListenerReplicas int32 = 1
	// DefaultMetricsPort is spec.listener.metricsPort's default: the
	// listener's HTTPS port for metrics and probes.
	DefaultMetricsPort int32 = 9847
)

// DefaultWolPorts returns spec.wolPorts' default, {9}.
func DefaultWolPorts() []int32 { return []int32{DefaultWolPort} }

// DefaultSpec returns the spec the API server stores for a WolConfig
// created with an empty one: every default above, nothing else.
func DefaultSpec() WolConfigSpec {
	cacheTTL, dedupe, deadline := DefaultCacheTTLSeconds, DefaultDedupeWindowSeconds, DefaultWakeDeadlineSeconds
	replicas, metricsPort := DefaultListenerReplicas, DefaultMetricsPort
	return WolConfigSpec{
		DiscoveryMode:       DefaultDiscoveryMode,
		WolPorts:            DefaultWolPorts(),
		CacheTTL:            &cacheTTL,
		DedupeWindowSeconds: &dedupe,
		RateLimit: RateLimitSpec{
			PerSourcePerMinute: DefaultPerSourcePerMinute, PerSourceBurst: DefaultPerSourceBurst,
			GlobalPerMinute: DefaultGlobalPerMinute, GlobalBurst: DefaultGlobalBurst,
		},
		WakeDeadlineSeconds: &deadline,
		Listener:            ListenerSpec{Replicas: &replicas, MetricsPort: &metricsPort},
	}
}
