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
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParsePassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []byte // nil: refused
	}{
		{"4 raw bytes", "\x01\x02\xfe\xff", []byte{1, 2, 0xfe, 0xff}},
		{"6 raw bytes", "secret", []byte("secret")},
		{"4 raw digits are raw, not text", "1234", []byte("1234")},
		{"6 raw bytes with blanks are kept", " ab\ncd", []byte(" ab\ncd")},
		{"dotted", "192.168.1.4", []byte{192, 168, 1, 4}},
		{"dotted with a line end", "192.168.1.4\n", []byte{192, 168, 1, 4}},
		{"dotted zeros", "0.0.0.0", []byte{0, 0, 0, 0}},
		{"hex six colon", "00:11:22:AA:bb:cc", []byte{0, 0x11, 0x22, 0xaa, 0xbb, 0xcc}},
		{"hex six dash, CRLF", "00-11-22-aa-bb-cc\r\n", []byte{0, 0x11, 0x22, 0xaa, 0xbb, 0xcc}},
		{"hex four", "de:ad:be:ef", []byte{0xde, 0xad, 0xbe, 0xef}},
		{"empty", "", nil},
		{"5 bytes", "abcde", nil},
		{"5 bytes: 4 with a line end are not trimmed into raw", "abcd\n", nil},
		{"7 bytes", "abcdefg", nil},
		{"dotted out of range", "192.168.1.256", nil},
		{"dotted three parts", "192.168.1", nil},
		{"dotted five parts", "1.2.3.4.5", nil},
		{"dotted empty part", "1..2.3.4", nil},
		{"dotted four digits", "1.2.3.0004", nil},
		{"dotted sign", "+1.2.3.4", nil},
		{"hex five pairs", "00:11:22:33:44", nil},
		{"hex mixed separators", "00:11-22:33:44:55", nil},
		{"hex bad digit", "00:11:22:33:44:5g", nil},
		{"hex no separators", "001122334455", nil},
		{"blank inside", "192.168. 1.4", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePassword([]byte(tc.in))
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidPassword) {
					t.Fatalf("ParsePassword(%q) error = %v, want ErrInvalidPassword", tc.in, err)
				}
				if len(tc.in) > 2 && strings.Contains(err.Error(), tc.in) {
					t.Errorf("the error discloses the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePassword(%q): %v", tc.in, err)
			}
			if p.Len() != len(tc.want) || !bytes.Equal(p.b[:p.n], tc.want) {
				t.Fatalf("ParsePassword(%q) = % x, want % x", tc.in, p.b[:p.n], tc.want)
			}
		})
	}
}

func TestNewPassword(t *testing.T) {
	for _, n := range []int{0, 1, 3, 5, 7, 100} {
		if _, err := NewPassword(make([]byte, n)); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("NewPassword of %d bytes: %v, want ErrInvalidPassword", n, err)
		}
	}
	for _, n := range []int{4, 6} {
		p, err := NewPassword(bytes.Repeat([]byte{7}, n))
		if err != nil || p.Len() != n || p.IsZero() {
			t.Errorf("NewPassword of %d bytes = %v (len %d), %v", n, p, p.Len(), err)
		}
	}
}

func TestPasswordMatches(t *testing.T) {
	six, _ := NewPassword([]byte{1, 2, 3, 4, 5, 6})
	four, _ := NewPassword([]byte{1, 2, 3, 4})
	zeros4, _ := NewPassword([]byte{0, 0, 0, 0})
	pkt := func(pw ...byte) *Packet {
		p, err := ParsePayload(AppendMagic(nil, macA, pw))
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	tests := []struct {
		name string
		want Password
		pkt  *Packet
		ok   bool
	}{
		{"six, right", six, pkt(1, 2, 3, 4, 5, 6), true},
		{"six, last byte wrong", six, pkt(1, 2, 3, 4, 5, 7), false},
		{"six, packet has its first four", six, pkt(1, 2, 3, 4), false},
		{"six, packet has none", six, pkt(), false},
		{"four, right", four, pkt(1, 2, 3, 4), true},
		{"four, packet has six starting with it", four, pkt(1, 2, 3, 4, 0, 0), false},
		{"four zeros, packet has none", zeros4, pkt(), false},
		{"none, packet has none", Password{}, pkt(), true},
		{"none, packet has one", Password{}, pkt(0, 0, 0, 0), false},
	}
	for _, tc := range tests {
		if got := tc.want.Matches(tc.pkt); got != tc.ok {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	p, _ := ParsePassword([]byte("abcdef"))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out := fmt.Sprintf(verb, p)
		if strings.Contains(out, "abcdef") || strings.Contains(out, "616263") || strings.Contains(out, "97") {
			t.Errorf("%s prints %q", verb, out)
		}
	}
	if s := fmt.Sprintf("%v", struct{ P Password }{p}); strings.Contains(s, "abc") {
		t.Errorf("a struct holding the password prints %q", s)
	}
}

func FuzzParsePassword(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "00:11:22:33:44:55", "de-ad-be-ef\n", "abcd", "abcdef", "", "1.2.3", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePassword(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidPassword) || !p.IsZero() {
				t.Fatalf("error %v with password of length %d", err, p.Len())
			}
			return
		}
		if p.Len() != 4 && p.Len() != 6 {
			t.Fatalf("accepted a password of %d bytes", p.Len())
		}
		if len(b) == 4 || len(b) == 6 {
			if !bytes.Equal(p.b[:p.n], b) {
				t.Fatalf("raw %q read as % x", b, p.b[:p.n])
			}
			return
		}
		// A text form: writing the bytes back in the same form and parsing
		// that gives the same password.
		var text string
		if bytes.ContainsRune(b, '.') {
			text = fmt.Sprintf("%d.%d.%d.%d", p.b[0], p.b[1], p.b[2], p.b[3])
		} else {
			parts := make([]string, p.n)
			for i := range parts {
				parts[i] = fmt.Sprintf("%02x", p.b[i])
			}
			text = strings.Join(parts, ":")
		}
		again, err := ParsePassword([]byte(text))
		if err != nil || again != p {
			t.Fatalf("%q parsed to % x, but its canonical form %q gives %v", b, p.b[:p.n], text, err)
		}
		// And a packet carrying those bytes matches it.
		pkt, perr := ParsePayload(AppendMagic(nil, macA, p.b[:p.n]))
		if perr != nil || !p.Matches(&pkt) {
			t.Fatalf("a packet with the password does not match it (%v)", perr)
		}
	})
}
