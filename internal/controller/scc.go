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
	"slices"

	securityv1 "github.com/openshift/api/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
)

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
