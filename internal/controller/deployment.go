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
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

// BuildDeployment builds the listener Deployment.
func BuildDeployment(wc *wolv1beta1.WolConfig, p Params) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment"},
		ObjectMeta: objectMeta(wc, ListenerName(wc), p.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(listenerReplicas(wc)),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(wc)},
			Strategy:             listenerStrategy(),
			RevisionHistoryLimit: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      ObjectLabels(wc),
					Annotations: listenerPodAnnotations(wc, p),
				},
				Spec: listenerPodSpec(wc, p),
			},
		},
	}
}

// listenerReplicas is spec.listener.replicas, or the API's default.
func listenerReplicas(wc *wolv1beta1.WolConfig) int32 {
	if wc.Spec.Listener.Replicas != nil {
		return *wc.Spec.Listener.Replicas
	}
	return wolv1beta1.DefaultListenerReplicas
}

// listenerStrategy is the Deployment's rollout strategy.
func listenerStrategy() appsv1.DeploymentStrategy {
	// Host ports allow one listener per node: replace pods in place
	// rather than surge, which could never schedule on a full set
	// of nodes.
	return appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge:       ptr.To(intstr.FromInt32(0)),
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
		},
	}
}

// listenerPodAnnotations names the default container and, on OpenShift, pins
// the pods to the WolConfig's SecurityContextConstraints.
func listenerPodAnnotations(wc *wolv1beta1.WolConfig, p Params) map[string]string {
	annotations := map[string]string{"kubectl.kubernetes.io/default-container": ListenerContainer}
	if p.OpenShift {
		annotations[RequiredSCCAnnotation] = ListenerClusterName(wc)
	}
	return annotations
}

// listenerPodSpec is the listener pod: on the host network, scheduled by
// spec.listener, with the one listener container.
func listenerPodSpec(wc *wolv1beta1.WolConfig, p Params) corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName:            ListenerName(wc),
		HostNetwork:                   true,
		DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
		NodeSelector:                  listenerNodeSelector(wc),
		Tolerations:                   listenerTolerations(wc),
		Affinity:                      listenerAffinity(wc),
		PriorityClassName:             wc.Spec.Listener.PriorityClassName,
		TerminationGracePeriodSeconds: ptr.To[int64](10),
		SecurityContext:               listenerPodSecurityContext(),
		Containers:                    []corev1.Container{listenerContainer(wc, p)},
	}
}

// listenerNodeSelector is spec.listener.nodeSelector, always narrowed to
// Linux nodes.
func listenerNodeSelector(wc *wolv1beta1.WolConfig) map[string]string {
	spec := wc.Spec.Listener
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
	return nodeSelector
}

// listenerTolerations is a copy of spec.listener.tolerations.
func listenerTolerations(wc *wolv1beta1.WolConfig) []corev1.Toleration {
	if len(wc.Spec.Listener.Tolerations) == 0 {
		return nil
	}
	tolerations := make([]corev1.Toleration, 0, len(wc.Spec.Listener.Tolerations))
	for _, t := range wc.Spec.Listener.Tolerations {
		tolerations = append(tolerations, *t.DeepCopy())
	}
	return tolerations
}

// listenerAffinity is spec.listener.affinity or, when it is unset, a
// preference for spreading the listener pods over nodes.
func listenerAffinity(wc *wolv1beta1.WolConfig) *corev1.Affinity {
	affinity := wc.Spec.Listener.Affinity.DeepCopy()
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
	return affinity
}

// listenerPodSecurityContext is the pod-level security context.
func listenerPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// listenerContainer is the listener container.
func listenerContainer(wc *wolv1beta1.WolConfig, p Params) corev1.Container {
	return corev1.Container{
		Name:            ListenerContainer,
		Image:           listenerImage(wc, p),
		Command:         []string{ListenerBinary},
		Args:            listenerArgs(wc),
		Env:             listenerEnv(),
		Ports:           listenerPorts(wc),
		ReadinessProbe:  listenerProbe("/readyz", 5, 3),
		LivenessProbe:   listenerProbe("/healthz", 10, 6),
		Resources:       listenerResources(wc),
		SecurityContext: listenerSecurityContext(needsOf(wc)),
		ImagePullPolicy: corev1.PullIfNotPresent,
	}
}

// listenerImage is spec.listener.image, or the operator's listener image.
func listenerImage(wc *wolv1beta1.WolConfig, p Params) string {
	image := p.Image
	if wc.Spec.Listener.Image != "" {
		image = wc.Spec.Listener.Image
	}
	return image
}

// listenerArgs are the listener's command-line arguments.
func listenerArgs(wc *wolv1beta1.WolConfig) []string {
	return []string{
		"--wolconfig=" + wc.Name,
		fmt.Sprintf("--metrics-bind-address=:%d", metricsPort(wc)),
	}
}

// listenerEnv passes the node's name and the pod's namespace to the listener.
func listenerEnv() []corev1.EnvVar {
	return []corev1.EnvVar{{
		Name: "NODE_NAME",
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			APIVersion: "v1", FieldPath: "spec.nodeName",
		}},
	}, {
		Name: "POD_NAMESPACE",
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			APIVersion: "v1", FieldPath: "metadata.namespace",
		}},
	}}
}

// listenerPorts are the container's ports: one UDP port per wolPort and the
// HTTPS metrics port, each also a host port.
func listenerPorts(wc *wolv1beta1.WolConfig) []corev1.ContainerPort {
	port := metricsPort(wc)
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
	return ports
}

// listenerProbe probes path on the HTTPS metrics port.
func listenerProbe(path string, period, failures int32) *corev1.Probe {
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

// listenerResources is spec.listener.resources, or the default requests and
// limits.
func listenerResources(wc *wolv1beta1.WolConfig) corev1.ResourceRequirements {
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
	if wc.Spec.Listener.Resources != nil {
		resources = *wc.Spec.Listener.Resources.DeepCopy()
	}
	return resources
}

// listenerSecurityContext is the container's security context: every
// capability dropped but those the sockets need, and root only when they
// need any (see listenerNeeds.root).
func listenerSecurityContext(needs listenerNeeds) *corev1.SecurityContext {
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
	return sc
}
