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

package wol

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}
	tests := []struct {
		in    string
		want  MAC
		valid bool
	}{
		{"52:54:00:ab:cd:ef", want, true},
		{"52:54:00:AB:CD:EF", want, true},
		{"52-54-00-Ab-cD-eF", want, true},
		{"ff:ff:ff:ff:ff:ff", Broadcast, true},
		{"00:00:00:00:00:00", MAC{}, true},
		{"", MAC{}, false},
		{"525400abcdef", MAC{}, false},
		{"5254.00ab.cdef", MAC{}, false},
		{"52:54:00-ab:cd:ef", MAC{}, false},
		{"52:54:00:ab:cd:eg", MAC{}, false},
		{"52:54:00:ab:cd:ef:", MAC{}, false},
		{"52 54 00 ab cd ef", MAC{}, false},
		{"52:54:00:ab:cd:e", MAC{}, false},
		{":52:54:00:ab:cd:e", MAC{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if tc.valid {
				if err != nil || got != tc.want {
					t.Fatalf("ParseMAC(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidMAC) {
				t.Fatalf("ParseMAC(%q) error = %v; want ErrInvalidMAC", tc.in, err)
			}
		})
	}
}

func TestMACPredicatesAndString(t *testing.T) {
	tests := []struct {
		mac                         MAC
		str                         string
		zero, bcast, mcast, unicast bool
	}{
		{MAC{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, "52:54:00:12:34:56", false, false, false, true},
		{MAC{0x02, 0, 0, 0, 0, 1}, "02:00:00:00:00:01", false, false, false, true},
		{MAC{}, "00:00:00:00:00:00", true, false, false, false},
		{Broadcast, "ff:ff:ff:ff:ff:ff", false, true, true, false},
		{MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, "01:00:5e:00:00:fb", false, false, true, false},
		{MAC{0x33, 0x33, 0, 0, 0, 1}, "33:33:00:00:00:01", false, false, true, false},
	}
	for _, tc := range tests {
		if got := tc.mac.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if tc.mac.IsZero() != tc.zero || tc.mac.IsBroadcast() != tc.bcast ||
			tc.mac.IsMulticast() != tc.mcast || tc.mac.IsUnicast() != tc.unicast {
			t.Errorf("%s: predicates zero=%v bcast=%v mcast=%v unicast=%v", tc.str,
				tc.mac.IsZero(), tc.mac.IsBroadcast(), tc.mac.IsMulticast(), tc.mac.IsUnicast())
		}
	}
}

func TestMACText(t *testing.T) {
	in := struct{ M MAC }{MAC{0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"M":"52:54:00:aa:bb:cc"}` {
		t.Fatalf("json = %s", b)
	}
	var out struct{ M MAC }
	if err := json.Unmarshal([]byte(`{"M":"52-54-00-AA-BB-CC"}`), &out); err != nil || out != in {
		t.Fatalf("unmarshal = %v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"M":"nope"}`), &out); !errors.Is(err, ErrInvalidMAC) {
		t.Fatalf("unmarshal invalid: %v", err)
	}
}
