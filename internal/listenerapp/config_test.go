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
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func TestListenerConfigAllowedSources(t *testing.T) {
	spec := wolv1beta1.WolConfigSpec{AllowedSources: wolv1beta1.AllowedSourcesSpec{
		CIDRs: []wolv1beta1.SourceCIDR{"192.0.2.7", "10.1.2.3/16", "fd00::1", "fd00:1::/64", "::ffff:198.51.100.0/120"},
		MACs:  []wolv1beta1.MACAddress{"52-54-00-AA-BB-CC"},
	}}
	cfg, err := ReceiverConfig(spec, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(cfg.AllowedSources.Prefixes))
	for _, p := range cfg.AllowedSources.Prefixes {
		got = append(got, p.String())
	}
	want := []string{"192.0.2.7/32", "10.1.0.0/16", "fd00::1/128", "fd00:1::/64", "198.51.100.0/24"}
	if !slices.Equal(got, want) {
		t.Errorf("prefixes %v, want %v", got, want)
	}
	if !slices.Equal(cfg.AllowedSources.MACs, []wol.MAC{{0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}}) {
		t.Errorf("MACs %v", cfg.AllowedSources.MACs)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the mapped configuration is invalid: %v", err)
	}

	// An entry the API server should have refused fails the mapping rather
	// than being dropped (which could leave an empty list: allow everyone).
	_, err = ReceiverConfig(wolv1beta1.WolConfigSpec{AllowedSources: wolv1beta1.AllowedSourcesSpec{
		CIDRs: []wolv1beta1.SourceCIDR{"office"}, MACs: []wolv1beta1.MACAddress{"nope"}}}, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "allowedSources.cidrs[0]") || !strings.Contains(err.Error(), "allowedSources.macs[0]") {
		t.Errorf("error %v", err)
	}
	if _, err := parseSource("fe80::1%eth0"); err == nil {
		t.Error("an address with a zone is accepted")
	}

	// A change of the allow-list alone restarts the packet engine.
	base, _ := ReceiverConfig(wolv1beta1.WolConfigSpec{}, logr.Discard())
	if changeOf(base, cfg) != restartEngine {
		t.Error("an allow-list change is not seen as a change of the packet settings")
	}
	if !cfg.AllowedSources.Equal(cfg.AllowedSources) || base.AllowedSources.Equal(cfg.AllowedSources) {
		t.Error("SourceFilter.Equal")
	}
	if !base.AllowedSources.IsZero() {
		t.Error("no allow-list must mean every sender")
	}
}

// TestEveryReceiverFieldHasADecision: a field added to receiver.Config
// must say, in receiverFields, how a running listener applies its change.
func TestEveryReceiverFieldHasADecision(t *testing.T) {
	typ := reflect.TypeFor[receiver.Config]()
	for i := range typ.NumField() {
		if _, ok := receiverFields[typ.Field(i).Name]; !ok {
			t.Errorf("receiver.Config.%s has no entry in receiverFields: decide whether a change restarts the packet engine", typ.Field(i).Name)
		}
	}
	if len(receiverFields) != typ.NumField() {
		t.Errorf("receiverFields names %d fields, receiver.Config has %d", len(receiverFields), typ.NumField())
	}
}

func TestChangeOf(t *testing.T) {
	base, err := ReceiverConfig(wolv1beta1.WolConfigSpec{}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	same := base
	same.Logger = logr.Discard().WithName("other")
	if got := changeOf(base, same); got != ignore {
		t.Errorf("a new logger: %v", got)
	}
	ports := base
	ports.Ports = []uint16{9, 7}
	if got := changeOf(base, ports); got != rebind {
		t.Errorf("new ports: %v", got)
	}
	both := ports
	both.Raw = true
	if got := changeOf(base, both); got != restartEngine {
		t.Errorf("new ports and raw mode: %v", got)
	}
	for name, by := range receiverFields {
		if by != restartEngine {
			continue
		}
		changed := base
		f := reflect.ValueOf(&changed).Elem().FieldByName(name)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Slice:
			f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
		case reflect.Struct:
			switch v := f.Addr().Interface().(type) {
			case *receiver.Limit:
				v.Burst++
			case *receiver.SourceFilter:
				v.MACs = append(v.MACs, wol.MAC{2})
			default:
				t.Fatalf("%s: no way to change a %T in this test", name, v)
			}
		default:
			t.Fatalf("%s: no way to change a %s in this test", name, f.Kind())
		}
		if got := changeOf(base, changed); got != restartEngine {
			t.Errorf("a change of %s: %v, want a restart of the packet engine", name, got)
		}
	}
}
