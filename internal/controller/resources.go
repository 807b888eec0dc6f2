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
	"fmt"
	"slices"
	"strconv"

	securityv1 "github.com/openshift/api/security/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/listenerrbac"
)

// The builders in this file are pure: they turn a WolConfig and the facts in
// Params into the objects the operator owns for it, with no client and no
// context. They are covered by table and golden-file tests.

const (
	// ListenerContainer is the name of the listener container.
	ListenerContainer = "listener"
	// ListenerBinary is the listener's entry point in the image.
	ListenerBinary = "/listener"
	// MetricsPortName names the listener's HTTPS port (metrics and probes).
	MetricsPortName = "metrics"
	// RequiredSCCAnnotation pins the listener pods to their own
	// SecurityContextConstraints on OpenShift.
	RequiredSCCAnnotation = "openshift.io/required-scc"
	// nonRootUID is the distroless "nonroot" user of the image.
	nonRootUID = 65532
	// privilegedPortLimit: binding a port below it needs NET_BIND_SERVICE.
	privilegedPortLimit = 1024
)

// Params are the facts about the cluster and the operator that, with a
// WolConfig, decide the desired objects.
type Params struct {
	// Namespace is the operator's namespace, where namespaced objects go.
	Namespace string
	// Image is the listener image when the WolConfig does not override it.
	Image string
	// OpenShift is true when security.openshift.io/v1 SCCs are served.
	OpenShift bool
	// Monitoring is true when monitoring.coreos.com/v1 ServiceMonitors are served.
	Monitoring bool
}

// listenerNeeds is what the listener's sockets require of its security context.
type listenerNeeds struct {
	bindService bool // a port below 1024: NET_BIND_SERVICE
	raw         bool // raw Ethernet: NET_RAW
}

func needsOf(wc *wolv1beta1.WolConfig) listenerNeeds {
	n := listenerNeeds{raw: wc.Spec.RawEthernet.Enabled}
	for _, p := range wolPorts(wc) {
		if p < privilegedPortLimit {
			n.bindService = true
		}
	}
	if metricsPort(wc) < privilegedPortLimit {
		n.bindService = true
	}
	return n
}

// root is true when the listener must run as UID 0: capabilities added to a
// non-root container never become effective, and file capabilities are
// blocked by allowPrivilegeEscalation: false. Root keeps only the capabilities
// listed in capabilities(); every other one is dropped.
func (n listenerNeeds) root() bool { return n.bindService || n.raw }

func (n listenerNeeds) capabilities() []corev1.Capability {
	var caps []corev1.Capability
	if n.bindService {
		caps = append(caps, "NET_BIND_SERVICE")
	}
	if n.raw {
		caps = append(caps, "NET_RAW")
	}
	return caps
}

// wolPorts is spec.wolPorts, or the API's default when it is empty (the API
// server fills it in; the builders agree with it either way).
func wolPorts(wc *wolv1beta1.WolConfig) []int32 {
	if len(wc.Spec.WolPorts) == 0 {
		return wolv1beta1.DefaultWolPorts()
	}
	return wc.Spec.WolPorts
}

func metricsPort(wc *wolv1beta1.WolConfig) int32 {
	if wc.Spec.Listener.MetricsPort != nil {
		return *wc.Spec.Listener.MetricsPort
	}
	return wolv1beta1.DefaultMetricsPort
}

func objectMeta(wc *wolv1beta1.WolConfig, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       namespace,
		Labels:          ObjectLabels(wc),
		OwnerReferences: []metav1.OwnerReference{ownerRef(wc)},
	}
}

func ownerRef(wc *wolv1beta1.WolConfig) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         wolv1beta1.GroupVersion.String(),
		Kind:               "WolConfig",
		Name:               wc.Name,
		UID:                wc.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// BuildServiceAccount builds the listener's ServiceAccount.
func BuildServiceAccount(wc *wolv1beta1.WolConfig, p Params) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
	}
}

// BuildClusterRole builds the listener process's ClusterRole: exactly the
// rules generated from the +kubebuilder:rbac markers of the listener process
// (listenerrbac.ProcessRules), with access to WolConfigs narrowed to this
// one, and on OpenShift the right to use this WolConfig's
// SecurityContextConstraints. What the listener may do to VirtualMachines is
// in BuildVMClusterRole.
func BuildClusterRole(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRole {
	rules := listenerrbac.ProcessRules()
	for i := range rules {
		if slices.Contains(rules[i].APIGroups, wolv1beta1.GroupVersion.Group) && slices.Contains(rules[i].Resources, "wolconfigs") {
			rules[i].ResourceNames = []string{wc.Name}
		}
	}
	if p.OpenShift {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups:     []string{securityv1.GroupName},
			Resources:     []string{"securitycontextconstraints"},
			ResourceNames: []string{ListenerClusterName(wc)},
			Verbs:         []string{"use"},
		})
	}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), ""),
		Rules:      rules,
	}
}

// BuildClusterRoleBinding binds the listener's ClusterRole to its ServiceAccount.
func BuildClusterRoleBinding(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ListenerClusterName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

// BuildVMClusterRole builds the ClusterRole of what the listener may do to
// VirtualMachines: read them and their instances, call KubeVirt's start and
// unpause subresources (exactly what `virtctl start` needs) and record
// events (listenerrbac.VMRules); with spec.directPatchFallback also patch
// them and their status (listenerrbac.DirectRules). It is bound in the
// WolConfig's scope only: see VMNamespaces.
func BuildVMClusterRole(wc *wolv1beta1.WolConfig, _ Params) *rbacv1.ClusterRole {
	rules := listenerrbac.VMRules()
	if wc.Spec.DirectPatchFallback {
		rules = append(rules, listenerrbac.DirectRules()...)
	}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), ""),
		Rules:      rules,
	}
}

// VMNamespaces returns the namespaces of the WolConfig's scope (sorted), or
// all == true when its scope is every namespace. Explicit mappings scope the
// namespaces they name; the other modes spec.namespaceSelectors, or every
// namespace when it is empty.
func VMNamespaces(wc *wolv1beta1.WolConfig) (namespaces []string, all bool) {
	if wc.Spec.DiscoveryMode == wolv1beta1.DiscoveryModeExplicit {
		for _, m := range wc.Spec.ExplicitMappings {
			namespaces = append(namespaces, m.Namespace)
		}
	} else if len(wc.Spec.NamespaceSelectors) == 0 {
		return nil, true
	} else {
		namespaces = slices.Clone(wc.Spec.NamespaceSelectors)
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), false
}

// BuildVMClusterRoleBinding grants the VM ClusterRole in every namespace,
// for a WolConfig whose scope is every namespace.
func BuildVMClusterRoleBinding(wc *wolv1beta1.WolConfig, p Params) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ListenerVMsName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

// BuildVMRoleBinding grants the VM ClusterRole in one namespace of the
// WolConfig's scope.
func BuildVMRoleBinding(wc *wolv1beta1.WolConfig, p Params, namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: objectMeta(wc, ListenerVMsName(wc), namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ListenerVMsName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

func listenerSubjects(wc *wolv1beta1.WolConfig, p Params) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ListenerName(wc), Namespace: p.Namespace}}
}

// SecureOnNamespaces returns, sorted and without duplicates, the namespaces
// where the listener of wc must read the SecureOn Secret
// (kubevirt-wol-secureon): the operator's own when spec.secureOn is set, and
// vmNamespaces, those of the VirtualMachines in scope that name their own
// password (vmindex.Index.SecureOnNamespaces).
func SecureOnNamespaces(wc *wolv1beta1.WolConfig, p Params, vmNamespaces []string) []string {
	out := slices.Clone(vmNamespaces)
	if wc.Spec.SecureOn != nil {
		out = append(out, p.Namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BuildSecureOnRole builds the Role, in namespace, that lets the listener of
// wc read the SecureOn Secret of that namespace: `get` on that one Secret,
// by name — no list, no watch, no other Secret.
func BuildSecureOnRole(wc *wolv1beta1.WolConfig, _ Params, namespace string) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), namespace),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			ResourceNames: []string{wolv1beta1.SecureOnSecretName},
			Verbs:         []string{"get"},
		}},
	}
}

// BuildSecureOnRoleBinding binds the SecureOn Role of namespace to the
// listener's ServiceAccount (in the operator's namespace).
func BuildSecureOnRoleBinding(wc *wolv1beta1.WolConfig, p Params, namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: objectMeta(wc, ListenerClusterName(wc), namespace),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ListenerClusterName(wc)},
		Subjects:   listenerSubjects(wc, p),
	}
}

// BuildDeployment builds the listener Deployment.
func BuildDeployment(wc *wolv1beta1.WolConfig, p Params) *appsv1.Deployment {
	spec := wc.Spec.Listener
	needs := needsOf(wc)
	port := metricsPort(wc)

	image := p.Image
	if spec.Image != "" {
		image = spec.Image
	}

	ports := make([]corev1.ContainerPort, 0, len(wolPorts(wc))+1)
	for _, wp := range wolPorts(wc) {
		// With the host network the container port is the host port: the
		// scheduler then never puts two pods needing it on one node.
		ports = append(ports, corev1.ContainerPort{
			Name:          "wol-" + strconv.Itoa(int(wp)),
			ContainerPort: wp,
			HostPort:      wp,
			Protocol:      corev1.ProtocolUDP,
		})
	}
	ports = append(ports, corev1.ContainerPort{
		Name:          MetricsPortName,
		ContainerPort: port,
		HostPort:      port,
		Protocol:      corev1.ProtocolTCP,
	})

	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path:   path,
				Port:   intstr.FromString(MetricsPortName),
				Scheme: corev1.URISchemeHTTPS,
			}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
			TimeoutSeconds:   2,
		}
	}

	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Privileged:               ptr.To(false),
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  needs.capabilities(),
		},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if needs.root() {
		sc.RunAsUser = ptr.To[int64](0)
		sc.RunAsNonRoot = ptr.To(false)
	} else {
		sc.RunAsUser = ptr.To[int64](nonRootUID)
		sc.RunAsNonRoot = ptr.To(true)
	}

	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
	if spec.Resources != nil {
		resources = *spec.Resources.DeepCopy()
	}

	affinity := spec.Affinity.DeepCopy()
	if affinity == nil {
		affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(wc)},
					TopologyKey:   corev1.LabelHostname,
				},
			}},
		}}
	}

	podAnnotations := map[string]string{"kubectl.kubernetes.io/default-container": ListenerContainer}
	if p.OpenShift {
		podAnnotations[RequiredSCCAnnotation] = ListenerClusterName(wc)
	}

	replicas := wolv1beta1.DefaultListenerReplicas
	if spec.Replicas != nil {
		replicas = *spec.Replicas
	}

	var tolerations []corev1.Toleration
	for _, t := range spec.Tolerations {
		tolerations = append(tolerations, *t.DeepCopy())
	}
	var nodeSelector map[string]string
	if len(spec.NodeSelector) > 0 {
		nodeSelector = make(map[string]string, len(spec.NodeSelector)+1)
		for k, v := range spec.NodeSelector {
			nodeSelector[k] = v
		}
	}
	if nodeSelector == nil {
		nodeSelector = map[string]string{}
	}
	nodeSelector[corev1.LabelOSStable] = "linux"

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment"},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(wc)},
			// Host ports allow one listener per node: replace pods in place
			// rather than surge, which could never schedule on a full set
			// of nodes.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromInt32(0)),
					MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				},
			},
			RevisionHistoryLimit: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      ObjectLabels(wc),
					Annotations: podAnnotations,
				},
				Spec: corev1.PodSpec{
					ServiceAccountName:            ListenerName(wc),
					HostNetwork:                   true,
					DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
					NodeSelector:                  nodeSelector,
					Tolerations:                   tolerations,
					Affinity:                      affinity,
					PriorityClassName:             spec.PriorityClassName,
					TerminationGracePeriodSeconds: ptr.To[int64](10),
					SecurityContext: &corev1.PodSecurityContext{
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:    ListenerContainer,
						Image:   image,
						Command: []string{ListenerBinary},
						Args: []string{
							"--wolconfig=" + wc.Name,
							fmt.Sprintf("--metrics-bind-address=:%d", port),
						},
						Env: []corev1.EnvVar{{
							Name: "NODE_NAME",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
								APIVersion: "v1", FieldPath: "spec.nodeName",
							}},
						}, {
							Name: "POD_NAMESPACE",
							ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
								APIVersion: "v1", FieldPath: "metadata.namespace",
							}},
						}},
						Ports:           ports,
						ReadinessProbe:  probe("/readyz", 5, 3),
						LivenessProbe:   probe("/healthz", 10, 6),
						Resources:       resources,
						SecurityContext: sc,
						ImagePullPolicy: corev1.PullIfNotPresent,
					}},
				},
			},
		},
	}
}

// BuildMetricsService builds the Service in front of the listeners' HTTPS
// metrics endpoints.
func BuildMetricsService(wc *wolv1beta1.WolConfig, p Params) *corev1.Service {
	port := metricsPort(wc)
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(wc),
			Ports: []corev1.ServicePort{{
				Name:       MetricsPortName,
				Port:       port,
				TargetPort: intstr.FromString(MetricsPortName),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}

// BuildServiceMonitor builds the ServiceMonitor that has Prometheus scrape
// the listeners with its ServiceAccount token (the endpoint refuses callers
// the API server does not authorize to get /metrics).
func BuildServiceMonitor(wc *wolv1beta1.WolConfig, p Params) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: SelectorLabels(wc)},
			Endpoints: []monitoringv1.Endpoint{{
				Port:            MetricsPortName,
				Path:            "/metrics",
				Scheme:          ptr.To(monitoringv1.SchemeHTTPS),
				BearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token", //nolint:staticcheck // what Prometheus uses for its own token
				HTTPConfigWithProxyAndTLSFiles: monitoringv1.HTTPConfigWithProxyAndTLSFiles{
					HTTPConfigWithTLSFiles: monitoringv1.HTTPConfigWithTLSFiles{
						TLSConfig: &monitoringv1.TLSConfig{
							// The listener serves a self-signed certificate;
							// the bearer token, not the certificate, is what
							// protects the endpoint.
							SafeTLSConfig: monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr.To(true)},
						},
					},
				},
			}},
		},
	}
}

// dropOnOpenShift are the capabilities container runtimes grant by default;
// the SCC makes dropping them mandatory, except those the listener needs.
var dropOnOpenShift = []corev1.Capability{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// BuildSCC builds the listener's own SecurityContextConstraints: the host
// network and host ports, the capabilities its sockets need and nothing
// else. It lists no users or groups: the listener's ClusterRole grants
// `use` on it to the listener's ServiceAccount.
func BuildSCC(wc *wolv1beta1.WolConfig, _ Params) *securityv1.SecurityContextConstraints {
	needs := needsOf(wc)
	allowed := needs.capabilities()
	var drop []corev1.Capability
	for _, c := range dropOnOpenShift {
		if !slices.Contains(allowed, c) {
			drop = append(drop, c)
		}
	}
	runAs := securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyMustRunAs, UID: ptr.To[int64](nonRootUID)}
	if needs.root() {
		runAs = securityv1.RunAsUserStrategyOptions{Type: securityv1.RunAsUserStrategyMustRunAs, UID: ptr.To[int64](0)}
	}
	meta := objectMeta(wc, ListenerClusterName(wc), "")
	meta.Annotations = map[string]string{
		"kubernetes.io/description": "Lets the kubevirt-wol listener of WolConfig " + wc.Name +
			" use the host network and ports and only the capabilities its sockets need.",
	}
	return &securityv1.SecurityContextConstraints{
		TypeMeta:                        metav1.TypeMeta{APIVersion: securityv1.GroupVersion.String(), Kind: "SecurityContextConstraints"},
		ObjectMeta:                      meta,
		AllowPrivilegedContainer:        false,
		AllowPrivilegeEscalation:        ptr.To(false),
		DefaultAllowPrivilegeEscalation: ptr.To(false),
		AllowHostNetwork:                true,
		AllowHostPorts:                  true,
		AllowHostPID:                    false,
		AllowHostIPC:                    false,
		AllowHostDirVolumePlugin:        false,
		ReadOnlyRootFilesystem:          true,
		AllowedCapabilities:             allowed,
		RequiredDropCapabilities:        drop,
		RunAsUser:                       runAs,
		SELinuxContext:                  securityv1.SELinuxContextStrategyOptions{Type: securityv1.SELinuxStrategyMustRunAs},
		FSGroup:                         securityv1.FSGroupStrategyOptions{Type: securityv1.FSGroupStrategyRunAsAny},
		SupplementalGroups:              securityv1.SupplementalGroupsStrategyOptions{Type: securityv1.SupplementalGroupsStrategyRunAsAny},
		SeccompProfiles:                 []string{"runtime/default"},
		Volumes: []securityv1.FSType{
			securityv1.FSTypeConfigMap, securityv1.FSTypeDownwardAPI, securityv1.FSTypeEmptyDir,
			securityv1.FSProjected, securityv1.FSTypeSecret,
		},
		Users:  []string{},
		Groups: []string{},
	}
}
