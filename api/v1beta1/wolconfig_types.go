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

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DiscoveryMode selects which VirtualMachines a WolConfig makes wakeable.
// +kubebuilder:validation:Enum=All;LabelSelector;Explicit
type DiscoveryMode string

const (
	// DiscoveryModeAll makes every VirtualMachine with a fixed MAC address in
	// the selected namespaces wakeable.
	DiscoveryModeAll DiscoveryMode = "All"
	// DiscoveryModeLabelSelector makes wakeable only the VirtualMachines that
	// match spec.vmSelector in the selected namespaces.
	DiscoveryModeLabelSelector DiscoveryMode = "LabelSelector"
	// DiscoveryModeExplicit makes wakeable only the VirtualMachines listed in
	// spec.explicitMappings, each under the MAC address given there.
	DiscoveryModeExplicit DiscoveryMode = "Explicit"
)

// WolConfigSpec is the desired Wake-on-LAN behaviour: which VirtualMachines a
// magic packet may start, on which UDP ports the listener hears packets, and
// where the listener runs.
// +kubebuilder:validation:XValidation:rule="!has(self.discoveryMode) || self.discoveryMode != 'LabelSelector' || has(self.vmSelector)",message="vmSelector is required when discoveryMode is LabelSelector",fieldPath=".vmSelector",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="(has(self.discoveryMode) && self.discoveryMode == 'LabelSelector') || !has(self.vmSelector)",message="vmSelector is only used when discoveryMode is LabelSelector; remove it or set discoveryMode: LabelSelector",fieldPath=".vmSelector",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.discoveryMode) || self.discoveryMode != 'Explicit' || (has(self.explicitMappings) && size(self.explicitMappings) > 0)",message="explicitMappings must list at least one mapping when discoveryMode is Explicit",fieldPath=".explicitMappings",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="(has(self.discoveryMode) && self.discoveryMode == 'Explicit') || !has(self.explicitMappings) || size(self.explicitMappings) == 0",message="explicitMappings is only used when discoveryMode is Explicit; remove it or set discoveryMode: Explicit",fieldPath=".explicitMappings",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.rawEthernet) || !has(self.rawEthernet.promiscuous) || !self.rawEthernet.promiscuous || (has(self.rawEthernet.enabled) && self.rawEthernet.enabled && has(self.interfaces) && size(self.interfaces) > 0)",message="rawEthernet.promiscuous needs rawEthernet.enabled: true and the interfaces to put in promiscuous mode listed in spec.interfaces",fieldPath=".rawEthernet.promiscuous",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.discoveryMode) || self.discoveryMode != 'Explicit' || !has(self.namespaceSelectors) || size(self.namespaceSelectors) == 0",message="namespaceSelectors is not used when discoveryMode is Explicit: every mapping names its own namespace",fieldPath=".namespaceSelectors",reason=FieldValueForbidden
type WolConfigSpec struct {
	// discoveryMode selects which VirtualMachines can be woken:
	// "All" (every VirtualMachine with a fixed MAC address in namespaceSelectors),
	// "LabelSelector" (only those that also match vmSelector) or
	// "Explicit" (only those listed in explicitMappings).
	// +kubebuilder:default=All
	// +optional
	DiscoveryMode DiscoveryMode `json:"discoveryMode,omitempty"`

	// namespaceSelectors lists the namespaces (by name) whose VirtualMachines
	// are considered in the All and LabelSelector modes. Empty means every
	// namespace in the cluster. Not allowed in Explicit mode.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +listType=set
	// +optional
	NamespaceSelectors []string `json:"namespaceSelectors,omitempty"`

	// vmSelector selects VirtualMachines by their labels. Required in the
	// LabelSelector mode and not allowed in the others.
	// +optional
	VMSelector *metav1.LabelSelector `json:"vmSelector,omitempty"`

	// explicitMappings maps MAC addresses to VirtualMachines. Required in the
	// Explicit mode and not allowed in the others. A mapping wins over the
	// MAC addresses in the VirtualMachine's own spec. Each MAC address may
	// appear once (compared case-insensitively, ':' and '-' alike).
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:XValidation:rule="self.all(m, self.exists_one(n, n.macAddress.lowerAscii().replace('-', ':') == m.macAddress.lowerAscii().replace('-', ':')))",message="each macAddress may appear only once in explicitMappings (compared case-insensitively, ':' and '-' alike)"
	// +listType=atomic
	// +optional
	ExplicitMappings []ExplicitMapping `json:"explicitMappings,omitempty"`

	// wolPorts are the UDP ports the listener receives magic packets on,
	// over IPv4 and IPv6. Every port is honoured. Common choices are 9
	// (discard, the usual default of WoL tools) and 7 (echo).
	// +kubebuilder:default={9}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	WolPorts []int32 `json:"wolPorts,omitempty"`

	// cacheTTL, in seconds, is the period of the full resynchronisation of
	// the MAC-to-VirtualMachine index: every cacheTTL seconds the listener
	// rebuilds its index from its watch cache, and the operator re-evaluates
	// this WolConfig's status (written only if something changed). Changes
	// to VirtualMachines are applied as they happen, whatever this value; the
	// resynchronisation is a safety net. 0 disables it.
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	CacheTTL *int32 `json:"cacheTTL,omitempty"`

	// interfaces, when not empty, restricts reception to these network
	// interfaces of the node (by name, e.g. "eth0" or "br-lan"): UDP packets
	// arriving on other interfaces are dropped and raw Ethernet frames are
	// only read from these. Empty means every interface. Every listed
	// interface must exist on the nodes the listener runs on.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=15
	// +kubebuilder:validation:items:Pattern=`^[^/:\s]+$`
	// +listType=set
	// +optional
	Interfaces []string `json:"interfaces,omitempty"`

	// rawEthernet configures reception of magic packets sent as raw Ethernet
	// frames (ethertype 0x0842, as etherwake sends them) besides UDP.
	// +optional
	RawEthernet RawEthernetSpec `json:"rawEthernet,omitempty"`

	// dedupeWindowSeconds is how long, after a wake, further magic packets
	// for the same MAC address (and password) are ignored as duplicates,
	// whatever port or protocol they come on. WoL tools often send several
	// copies of a packet.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +optional
	DedupeWindowSeconds *int32 `json:"dedupeWindowSeconds,omitempty"`

	// rateLimit bounds the wakes the listener acts on, per source and in
	// total, so a flood cannot turn into a flood of API requests. Packets
	// over the limits are dropped and counted.
	// +kubebuilder:default={}
	// +optional
	RateLimit RateLimitSpec `json:"rateLimit,omitempty"`

	// wakeDeadlineSeconds bounds how long the listener keeps trying to act
	// on an admitted wake, counted from the moment the packet was received:
	// while the API server or KubeVirt's virt-api is unreachable or answers
	// with transient errors, the start is retried with backoff until then,
	// and a VM that is still stopping (a guest shutting down within its
	// grace period) is waited for until then. A wake still not done at its
	// deadline is abandoned, counted (wol_wakes_expired_total) and logged;
	// it is never started later. Set it above the longest
	// terminationGracePeriodSeconds of the VMs in scope if a wake during a
	// shutdown must start the VM once it is down.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +optional
	WakeDeadlineSeconds *int32 `json:"wakeDeadlineSeconds,omitempty"`

	// directPatchFallback lets the listener start VMs by patching them —
	// the very change virt-api's start subresource makes, with a
	// precondition — on clusters where KubeVirt's subresource API
	// (subresources.kubevirt.io/v1) is not registered at all. It grants the
	// listener `patch` on virtualmachines and virtualmachines/status in its
	// scope, which `virtctl start` never needs, so it is off by default:
	// without it the listener can only call the start and unpause
	// subresources, and a wake on such a cluster fails with reason
	// SubresourceAPINotRegistered. A registered API that does not answer
	// (virt-api restarting) is waited for within wakeDeadlineSeconds
	// either way, never bypassed.
	// +optional
	DirectPatchFallback bool `json:"directPatchFallback,omitempty"`

	// secureOn requires a SecureOn password in the magic packets that wake
	// the VirtualMachines in scope. A VirtualMachine whose annotation
	// wol.pillon.org/secureon-key names its own password uses that one
	// instead, whether or not secureOn is set. A packet without the
	// password the VirtualMachine requires, or with another one, is
	// refused. See docs/SECURITY.md.
	// +optional
	SecureOn *SecureOnSpec `json:"secureOn,omitempty"`

	// allowedSources restricts who may send magic packets. Empty (the
	// default) accepts packets from any sender on the node's network. When
	// it lists anything, a UDP packet is accepted only from an address in
	// cidrs and a raw Ethernet frame only from a source MAC in macs; every
	// other packet is refused and counted. Source addresses can be forged by
	// anyone on the same network segment: this narrows who can wake VMs by
	// accident or from a routed network, it does not authenticate (use
	// secureOn for that).
	// +optional
	AllowedSources AllowedSourcesSpec `json:"allowedSources,omitempty"`

	// listener sets where and how the listener pods run.
	// +kubebuilder:default={}
	// +optional
	Listener ListenerSpec `json:"listener,omitempty"`
}

// SecureOnSecretName is the name of the Secrets that hold SecureOn
// passwords: one in the operator's namespace for WolConfig-wide passwords
// (spec.secureOn.passwordKey), and one in each VirtualMachine namespace for
// per-VM passwords (annotation wol.pillon.org/secureon-key). The name is
// fixed so that RBAC can grant the operator and the listeners exactly these
// Secrets, by name, and no other.
const SecureOnSecretName = "kubevirt-wol-secureon"

// SecureOnKeyAnnotation, on a VirtualMachine, names the key of the Secret
// kubevirt-wol-secureon in the VirtualMachine's namespace that holds the
// SecureOn password a magic packet for it must carry. It takes precedence
// over the WolConfig's spec.secureOn.
const SecureOnKeyAnnotation = "wol.pillon.org/secureon-key"

// SecureOnSpec names the WolConfig-wide SecureOn password.
type SecureOnSpec struct {
	// passwordKey is the key, in the Secret kubevirt-wol-secureon of the
	// operator's namespace, whose value is the password: exactly 4 or 6 raw
	// bytes, or the text forms "a.b.c.d" (4 bytes, each 0-255) and
	// "xx:xx:xx:xx:xx:xx" or "xx:xx:xx:xx" (hexadecimal, ':' or '-'). If the
	// Secret or the key is missing or the value is not a valid password, no
	// packet wakes the VirtualMachines that need it (it fails closed).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +required
	PasswordKey string `json:"passwordKey"`
}

// AllowedSourcesSpec lists the senders whose magic packets are accepted.
type AllowedSourcesSpec struct {
	// cidrs are the IPv4 and IPv6 addresses ("192.0.2.7") and networks
	// ("192.0.2.0/24", "fd00::/64") UDP magic packets are accepted from.
	// Bits after the prefix length are ignored.
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	CIDRs []SourceCIDR `json:"cidrs,omitempty"`

	// macs are the source MAC addresses raw Ethernet magic packets are
	// accepted from.
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	MACs []MACAddress `json:"macs,omitempty"`
}

// SourceCIDR is an IP address or an IP network in CIDR notation.
// +kubebuilder:validation:MinLength=2
// +kubebuilder:validation:MaxLength=49
// +kubebuilder:validation:XValidation:rule="isIP(self) || isCIDR(self)",message="must be an IP address (192.0.2.7, fd00::7) or a network in CIDR notation (192.0.2.0/24, fd00::/64)"
type SourceCIDR string

// MACAddress is a unicast MAC address: six pairs of hexadecimal digits
// separated by ':' or '-', in any case.
// +kubebuilder:validation:MinLength=17
// +kubebuilder:validation:MaxLength=17
// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$') || self.matches('^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}$')",message="must be six pairs of hexadecimal digits separated by ':' or '-', e.g. 52:54:00:12:34:56"
// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') != 'ff:ff:ff:ff:ff:ff'",message="must not be the broadcast address ff:ff:ff:ff:ff:ff"
// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') != '00:00:00:00:00:00'",message="must not be the all-zero address 00:00:00:00:00:00"
// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') == 'ff:ff:ff:ff:ff:ff' || !(self.lowerAscii().substring(1, 2) in ['1', '3', '5', '7', '9', 'b', 'd', 'f'])",message="must not be a multicast address (the lowest bit of the first octet is set)"
type MACAddress string

// RawEthernetSpec configures reception of raw Ethernet magic packets.
type RawEthernetSpec struct {
	// enabled turns on reception of raw Ethernet frames with ethertype
	// 0x0842. The listener then needs the NET_RAW capability.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// promiscuous puts the interfaces listed in spec.interfaces in
	// promiscuous mode, to hear frames addressed to a stopped VM's own MAC
	// address (etherwake's default) rather than to broadcast. Needs
	// enabled: true and a non-empty spec.interfaces. Off by default: without
	// it only broadcast frames (etherwake -b) and frames addressed to the
	// node are heard.
	// +optional
	Promiscuous bool `json:"promiscuous,omitempty"`
}

// RateLimitSpec bounds the wakes the listener acts on. Each limit is a token
// bucket: up to the burst at once, refilled at the per-minute rate.
type RateLimitSpec struct {
	// perSourcePerMinute is the sustained number of wakes accepted per
	// minute from one source (IP address for UDP, MAC address for raw
	// frames).
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600000
	// +optional
	PerSourcePerMinute int32 `json:"perSourcePerMinute,omitempty"`

	// perSourceBurst is the number of wakes accepted at once from one source.
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	PerSourceBurst int32 `json:"perSourceBurst,omitempty"`

	// globalPerMinute is the sustained number of wakes accepted per minute
	// from all sources together: it bounds the rate of start requests a
	// listener sends to the API server.
	// +kubebuilder:default=3000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600000
	// +optional
	GlobalPerMinute int32 `json:"globalPerMinute,omitempty"`

	// globalBurst is the number of wakes accepted at once from all sources.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	GlobalBurst int32 `json:"globalBurst,omitempty"`
}

// ExplicitMapping maps one MAC address to one VirtualMachine.
type ExplicitMapping struct {
	// macAddress is the MAC address a magic packet carries to wake this
	// VirtualMachine: six pairs of hexadecimal digits separated by ':' or
	// '-', in any case (canonical form: lower case with ':', e.g.
	// 52:54:00:12:34:56). Broadcast, all-zero and multicast addresses are
	// refused because no network card has them.
	// +kubebuilder:validation:MinLength=17
	// +kubebuilder:validation:MaxLength=17
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$') || self.matches('^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}$')",message="must be six pairs of hexadecimal digits separated by ':' or '-', e.g. 52:54:00:12:34:56"
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') != 'ff:ff:ff:ff:ff:ff'",message="must not be the broadcast address ff:ff:ff:ff:ff:ff"
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') != '00:00:00:00:00:00'",message="must not be the all-zero address 00:00:00:00:00:00"
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii().replace('-', ':') == 'ff:ff:ff:ff:ff:ff' || !(self.lowerAscii().substring(1, 2) in ['1', '3', '5', '7', '9', 'b', 'd', 'f'])",message="must not be a multicast address (the lowest bit of the first octet is set)"
	// +required
	MACAddress string `json:"macAddress"`

	// vmName is the name of the VirtualMachine to start.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	VMName string `json:"vmName"`

	// namespace is the namespace of the VirtualMachine.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Namespace string `json:"namespace"`
}

// ListenerSpec sets where and how the listener pods run. The listener uses
// the host network so it hears broadcast magic packets on the node's LAN.
type ListenerSpec struct {
	// replicas is the number of listener pods. Pods that use the same UDP
	// ports never share a node, so each replica needs its own node; more
	// than one replica keeps waking VMs while a node is down. Every replica
	// that hears a packet may try the start; the VM still starts once.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// nodeSelector restricts the listener pods to nodes with these labels,
	// for example the nodes attached to the LAN the magic packets come from.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the listener pods run on tainted nodes.
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity replaces the default scheduling affinity of the listener
	// pods (by default replicas prefer different nodes).
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// resources are the compute resources of the listener container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// priorityClassName is the priority class of the listener pods.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// metricsPort is the TCP port of the listener's HTTPS endpoint on the
	// node (the listener uses the host network): /metrics, which needs a
	// token allowed to get /metrics, and the /healthz and /readyz probes.
	// Two WolConfigs whose listeners share nodes need different ports.
	// +kubebuilder:default=9847
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	MetricsPort *int32 `json:"metricsPort,omitempty"`

	// image overrides the listener container image. By default the listener
	// runs from the operator's own image.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`
}

// WolConfigStatus is the observed state of a WolConfig.
type WolConfigStatus struct {
	// conditions describe the state of this WolConfig: Ready (the listener
	// is running and VMs can be woken), Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// managedVMs is the number of VirtualMachines in scope that a magic
	// packet can wake (in scope, with a fixed MAC address, not in conflict).
	// +optional
	ManagedVMs int32 `json:"managedVMs"`

	// macConflictCount is the number of MAC addresses that two or more
	// VirtualMachines in scope declare. A magic packet for such an address
	// wakes none of them.
	// +optional
	MACConflictCount int32 `json:"macConflictCount,omitempty"`

	// macConflicts lists the first of those conflicts (sorted by MAC).
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	MACConflicts []MACConflict `json:"macConflicts,omitempty"`

	// notWakeableCount is the number of VirtualMachines in scope that no
	// magic packet can wake because none of their interfaces has a fixed
	// MAC address (KubeVirt then generates a new one at every start).
	// +optional
	NotWakeableCount int32 `json:"notWakeableCount,omitempty"`

	// notWakeableVMs lists the first of them, as "namespace/name".
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	NotWakeableVMs []string `json:"notWakeableVMs,omitempty"`

	// missingMappingCount is the number of explicitMappings whose
	// VirtualMachine does not exist.
	// +optional
	MissingMappingCount int32 `json:"missingMappingCount,omitempty"`

	// missingMappings lists the first of them.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	MissingMappings []ExplicitMapping `json:"missingMappings,omitempty"`

	// listener reports the listener pods' readiness.
	// +optional
	Listener ListenerStatus `json:"listener,omitempty"`

	// lastSync is when the operator last found a change in what the
	// VirtualMachines in scope amount to (managedVMs, conflicts, VMs that
	// cannot be woken, missing mappings). The operator re-evaluates them on
	// every relevant VirtualMachine change and every cacheTTL seconds, but
	// writes the status only when something changed.
	// +optional
	LastSync *metav1.Time `json:"lastSync,omitempty"`
}

// MACConflict is one MAC address declared by several VirtualMachines in scope.
type MACConflict struct {
	// macAddress is the contested address (lower case, ':'-separated).
	MACAddress string `json:"macAddress"`
	// vms are the VirtualMachines that declare it, as "namespace/name".
	// +listType=atomic
	VMs []string `json:"vms"`
}

// ListenerStatus reports the listener pods' readiness.
type ListenerStatus struct {
	// replicas is the number of listener pods wanted.
	// +optional
	Replicas int32 `json:"replicas"`

	// readyReplicas is the number of listener pods that are ready: every
	// socket is bound and the VM index is synchronised.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`
}

// WolConfig configures Wake-on-LAN for KubeVirt VirtualMachines: which VMs a
// magic packet may start, on which UDP ports it is heard, and where the
// listener runs. It is cluster-scoped.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=wolcfg,categories=kubevirt-wol
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 50",message="metadata.name must be a DNS label of at most 50 characters starting with a letter: it names the listener's Deployment, Service and RBAC objects"
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.discoveryMode`
// +kubebuilder:printcolumn:name="Ports",type=string,JSONPath=`.spec.wolPorts`
// +kubebuilder:printcolumn:name="Managed VMs",type=integer,JSONPath=`.status.managedVMs`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WolConfig struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired Wake-on-LAN behaviour.
	// +kubebuilder:default={}
	// +optional
	Spec WolConfigSpec `json:"spec,omitempty"`

	// status is the observed state, written by the operator.
	// +optional
	Status WolConfigStatus `json:"status,omitempty"`
}

// WolConfigList is a list of WolConfig objects.
// +kubebuilder:object:root=true
type WolConfigList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the WolConfig objects.
	Items []WolConfig `json:"items"`
}
