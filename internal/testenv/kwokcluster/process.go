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

package kwokcluster

import (
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// CommandFor returns the local binary and arguments for a pod's container, to
// run it with proc.Start in place of the simulated pod:
// the container's command (its base name, looked up in bin) followed by its
// arguments, then extra. Env gets the container's env with downward-API
// fields resolved for the pod (spec.nodeName, metadata.namespace,
// metadata.name); other sources are not supported and make it fail.
func CommandFor(bin string, pod *corev1.Pod, container string, extra ...string) (binary string, args, env []string, err error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == container {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", nil, nil, fmt.Errorf("pod %s has no container %q", pod.Name, container)
	}
	if len(c.Command) == 0 {
		return "", nil, nil, fmt.Errorf("container %q has no command", container)
	}
	binary = filepath.Join(bin, filepath.Base(c.Command[0]))
	args = append(append(append([]string{}, c.Command[1:]...), c.Args...), extra...)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil:
			var v string
			switch e.ValueFrom.FieldRef.FieldPath {
			case "spec.nodeName":
				v = pod.Spec.NodeName
			case "metadata.namespace":
				v = pod.Namespace
			case "metadata.name":
				v = pod.Name
			default:
				return "", nil, nil, fmt.Errorf("env %s: field %s not supported", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			env = append(env, e.Name+"="+v)
		default:
			return "", nil, nil, fmt.Errorf("env %s: only values and field references are supported", e.Name)
		}
	}
	return binary, args, env, nil
}
