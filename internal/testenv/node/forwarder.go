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
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"

	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
)

// startForwarder gives the node's namespace the API server's advertised
// address (on its loopback interface: no dummy interface module here) and
// forwards its port there to the API
// server at host (a URL reachable from this process).
func (n *Node) startForwarder(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return err
	}
	port, err := apiServerPort(host)
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", n.opts.APIServerIP.String() + "/32", "dev", "lo"},
	} {
		cmd := exec.Command("nsenter", append([]string{"--net=" + n.opts.NetNS, "--", "ip"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("node: ip %s in %s: %w: %s", strings.Join(args, " "), n.opts.NetNS, err, out)
		}
	}
	var ln net.Listener
	if err := netns.Run(n.opts.NetNS, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(n.opts.APIServerIP.String(), port))
		return err
	}); err != nil {
		return fmt.Errorf("node: forwarding the API server into %s: %w", n.opts.NetNS, err)
	}
	// The node's way to the control plane, standing in for the network
	// between a node and its API server.
	n.fwd = cutproxy.Serve(ln, u.Host)
	return nil
}
