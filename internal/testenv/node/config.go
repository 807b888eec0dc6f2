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

package node

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
)

// writeConfigs writes the node's kubeconfig, containerd's, the CNI network's,
// the kubelet's and kube-proxy's configurations into the node's folder.
func (n *Node) writeConfigs() error {
	admin, err := clientcmd.LoadFromFile(n.opts.Kubeconfig)
	if err != nil {
		return err
	}
	for _, c := range admin.Clusters {
		port, err := apiServerPort(c.Server)
		if err != nil {
			return err
		}
		c.Server = "https://" + net.JoinHostPort(n.opts.APIServerIP.String(), port)
	}
	if err := clientcmd.WriteToFile(*admin, n.path("node.kubeconfig")); err != nil {
		return err
	}
	cni, err := n.cniConfig()
	if err != nil {
		return err
	}
	files := map[string]string{
		"containerd.toml":                    n.containerdConfig(),
		"kubelet.yaml":                       n.kubeletConfig(),
		"kube-proxy.yaml":                    n.kubeProxyConfig(),
		"resolv.conf":                        "# the node has no cluster DNS\n",
		"cni/net.d/10-kubevirt-wol.conflist": cni,
	}
	for name, data := range files {
		if err := os.WriteFile(n.path(name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is `containerd config default` narrowed to what the node
// needs, with every path in the node's folder, and the two settings this
// machine needs: restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE,
// so a sandbox cannot lower its oom_score_adj) and cgroupfs (no systemd).
func (n *Node) containerdConfig() string {
	d := n.opts.Dir
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
    max_conf_num = 1
`, filepath.Join(d, "containerd", "root"), filepath.Join(d, "containerd", "state"), n.Socket(), n.Socket()+".ttrpc",
		filepath.Join(d, "containerd", "opt"), n.opts.PauseImage, CNIBinDir, filepath.Join(d, "cni", "net.d"))
}

// cniConfig is a bridge network in the node's namespace with host-local
// addresses from PodCIDR (its state in the node's folder) and the node as
// the pods' gateway.
func (n *Node) cniConfig() (string, error) {
	type ipam struct {
		Type    string                `json:"type"`
		Ranges  [][]map[string]string `json:"ranges"`
		Routes  []map[string]string   `json:"routes"`
		DataDir string                `json:"dataDir"`
	}
	type plugin struct {
		Type        string `json:"type"`
		Bridge      string `json:"bridge,omitempty"`
		IsGateway   bool   `json:"isGateway,omitempty"`
		HairpinMode bool   `json:"hairpinMode,omitempty"`
		IPAM        *ipam  `json:"ipam,omitempty"`
	}
	conf := struct {
		CNIVersion string   `json:"cniVersion"`
		Name       string   `json:"name"`
		Plugins    []plugin `json:"plugins"`
	}{
		CNIVersion: "1.0.0",
		Name:       n.cniNetwork(),
		Plugins: []plugin{
			{Type: bridgePlugin, Bridge: "cni0", IsGateway: true, HairpinMode: true, IPAM: &ipam{
				Type:    "host-local",
				Ranges:  [][]map[string]string{{{"subnet": n.opts.PodCIDR.String()}}},
				Routes:  []map[string]string{{"dst": "0.0.0.0/0"}},
				DataDir: n.path("cni/ipam"),
			}},
			{Type: "loopback"},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	return string(data), err
}

// kubeletConfig is what worked on these machines (docs/TESTING.md, "A real
// node"): cgroup v1 allowed, cgroupfs, no swap check, the node's address;
// pods under their own cgroup root; eviction and image garbage collection
// thresholds that a busy shared disk does not trip.
func (n *Node) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
containerRuntimeEndpoint: unix://%[2]s
failSwapOn: false
address: %[3]s
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
podLogsDir: %[4]s
resolvConf: %[5]s
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
authorization:
  mode: Webhook
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 30
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
`, n.CgroupRoot(), n.Socket(), n.opts.IP, n.PodLogsDir(), n.path("resolv.conf"))
}

// kubeProxyConfig runs kube-proxy in iptables mode in the node's namespace,
// leaving the conntrack settings of the machine alone.
func (n *Node) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]s
hostnameOverride: %[2]s
mode: iptables
clusterCIDR: %[3]s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
`, n.path("node.kubeconfig"), n.opts.Name, n.opts.PodCIDR)
}
