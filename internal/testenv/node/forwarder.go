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
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"strings"

	"github.com/gpillon/kubevirt-wol/internal/testenv/cutproxy"
	"github.com/gpillon/kubevirt-wol/internal/testenv/proc"
)

// startForwarder gives the node's namespace the API server's advertised
// address (on its loopback interface: no dummy interface module here) and
// forwards its port there to the API server at host (a URL reachable from
// this process): inside this process, or with Options.RelayCommand as a
// process of its own when the node is detached.
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
	listen := net.JoinHostPort(n.opts.APIServerIP.String(), port)
	if len(n.opts.RelayCommand) > 0 {
		args := append(slices.Clone(n.opts.RelayCommand[1:]), "--netns="+n.opts.NetNS, "--listen="+listen, "--to="+u.Host)
		n.Relay, err = proc.Start(n.opts.RelayCommand[0], args, nil, n.path("relay.log"), n.opts.Detached)
		return err
	}
	// The node's way to the control plane, standing in for the network
	// between a node and its API server.
	n.fwd, err = cutproxy.ListenIn(n.opts.NetNS, listen, u.Host)
	return err
}

// Relay is the body of a RelayCommand: it listens on listen in the network
// namespace netnsPath and relays every connection to target until ctx ends.
func Relay(ctx context.Context, netnsPath, listen, target string) error {
	p, err := cutproxy.ListenIn(netnsPath, listen, target)
	if err != nil {
		return err
	}
	<-ctx.Done()
	p.Close()
	return nil
}
