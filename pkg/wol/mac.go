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
	"errors"
	"fmt"
)

// MAC is an IEEE 802 MAC-48 address. It is a comparable value type, so it can
// be used as a map key and copied without allocation.
type MAC [6]byte

// Broadcast is the Ethernet broadcast address ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ErrInvalidMAC is wrapped by the error ParseMAC returns for malformed input.
var ErrInvalidMAC = errors.New("invalid MAC address")

const hexDigits = "0123456789abcdef"

// String returns the address in lower-case colon-separated form, for example
// "52:54:00:12:34:56".
func (m MAC) String() string {
	var buf [17]byte
	m.appendTo(buf[:0])
	return string(buf[:])
}

func (m MAC) appendTo(dst []byte) []byte {
	for i, b := range m {
		if i > 0 {
			dst = append(dst, ':')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == Broadcast }

// IsMulticast reports whether the group (I/G) bit of m is set. The broadcast
// address is a multicast address too.
func (m MAC) IsMulticast() bool { return m[0]&0x01 != 0 }

// IsUnicast reports whether m can identify a single station: it is neither
// zero nor a group (multicast or broadcast) address. Only such addresses are
// accepted as the target of a magic packet.
func (m MAC) IsUnicast() bool { return !m.IsZero() && !m.IsMulticast() }

// MarshalText implements encoding.TextMarshaler using the String form.
func (m MAC) MarshalText() ([]byte, error) {
	return m.appendTo(make([]byte, 0, 17)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseMAC.
func (m *MAC) UnmarshalText(text []byte) error {
	parsed, err := ParseMAC(string(text))
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// ParseMAC parses a MAC-48 address written as six pairs of hexadecimal digits
// separated by ':' or '-' (one separator used throughout), in any letter
// case: "52:54:00:AB:cd:ef" and "52-54-00-ab-cd-ef" are accepted, while
// "525400abcdef", "5254.00ab.cdef" and mixed separators are not.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, fmt.Errorf("%w %q: want 6 hexadecimal pairs separated by ':' or '-'", ErrInvalidMAC, s)
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return m, fmt.Errorf("%w %q: separator must be ':' or '-'", ErrInvalidMAC, s)
	}
	for i := range m {
		p := i * 3
		if i > 0 && s[p-1] != sep {
			return m, fmt.Errorf("%w %q: mixed or misplaced separators", ErrInvalidMAC, s)
		}
		hi, ok1 := fromHex(s[p])
		lo, ok2 := fromHex(s[p+1])
		if !ok1 || !ok2 {
			return m, fmt.Errorf("%w %q: not a hexadecimal digit", ErrInvalidMAC, s)
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
