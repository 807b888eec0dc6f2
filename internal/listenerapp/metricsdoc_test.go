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

package listenerapp

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	kubevirt "kubevirt.io/client-go/kubevirt/typed/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/testenv"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
)

// names records the metric names registered on it, whether or not a series
// exists yet.
type names struct{ got []string }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (n *names) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			n.got = append(n.got, m[1])
		}
	}
	return nil
}

func (n *names) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = n.Register(c)
	}
}

func (n *names) Unregister(prometheus.Collector) bool { return true }

// Every wol_* metric the listener process serves is documented in
// docs/metrics.md under the package that registers it: the row, or the
// section the row is in, names that package.
func TestMetricsDocumentedUnderTheirPackage(t *testing.T) {
	registered := map[string]*names{}
	reg := func(pkg string) prometheus.Registerer {
		registered[pkg] = &names{}
		return registered[pkg]
	}
	if _, err := receiver.New(receiver.Config{Ports: []uint16{9}},
		receiver.WakeHandlerFunc(func(context.Context, receiver.Wake) error { return nil }), reg("pkg/receiver")); err != nil {
		t.Fatal(err)
	}
	scope, err := vmindex.ScopeFromSpec(wolv1beta1.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	index, err := vmindex.NewIndex(scope, reg("pkg/vmindex"))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kubevirt.NewForConfig(&rest.Config{Host: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	starter, err := vmstarter.New(kv, vmstarter.Options{Registerer: reg("pkg/vmstarter")})
	if err != nil {
		t.Fatal(err)
	}
	noSecrets := func(context.Context, string, string) (*corev1.Secret, error) { return nil, nil }
	if _, err := wake.New(wake.Options{Resolver: index, Starter: starter, Secrets: noSecrets,
		Registerer: reg("pkg/wake")}); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The row of each metric, with the heading of its section.
	rows := map[string]string{}
	heading := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			heading = line
		}
		if m := regexp.MustCompile("^\\| `(wol_[a-z_]+)`").FindStringSubmatch(line); m != nil {
			rows[m[1]] = heading + "\n" + line
		}
	}
	total := 0
	for pkg, n := range registered {
		for _, name := range n.got {
			if !strings.HasPrefix(name, "wol_") {
				continue
			}
			total++
			row, ok := rows[name]
			switch {
			case !ok:
				t.Errorf("%s (registered by %s) has no row in docs/metrics.md", name, pkg)
			case !strings.Contains(row, "`"+pkg+"`"):
				t.Errorf("docs/metrics.md does not say %s is registered by %s:\n%s", name, pkg, row)
			}
			delete(rows, name)
		}
	}
	for name := range rows {
		t.Errorf("docs/metrics.md documents %s, which nothing registers", name)
	}
	if total < 15 {
		t.Errorf("only %d wol_* metrics registered: %v", total, registered)
	}
}
