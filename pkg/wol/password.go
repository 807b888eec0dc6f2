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
	"crypto/subtle"
	"errors"
	"fmt"
)

// ErrInvalidPassword is wrapped by the errors of NewPassword and
// ParsePassword. Their messages give the length of the rejected input, never
// its content.
var ErrInvalidPassword = errors.New("invalid SecureOn password")

// Password is an expected SecureOn password: 4 or 6 bytes. The zero value
// means "no password". It never prints its content: String, GoString and
// Format all give "[redacted]", so a Password in a log line or an error
// message discloses nothing.
type Password struct {
	b [MaxPasswordLen]byte
	n uint8
}

// NewPassword returns the password made of b verbatim, which must be 4 or 6
// bytes long.
func NewPassword(b []byte) (Password, error) {
	var p Password
	if len(b) != 4 && len(b) != MaxPasswordLen {
		return p, fmt.Errorf("%w: %d bytes, want 4 or 6", ErrInvalidPassword, len(b))
	}
	p.n = uint8(copy(p.b[:], b))
	return p, nil
}

// ParsePassword reads a SecureOn password as it is stored in a Secret:
//
//   - exactly 4 or 6 bytes are the password verbatim (raw bytes);
//   - otherwise, after trimming surrounding blanks and line ends, the text
//     forms etherwake's -p option accepts: four decimal numbers 0-255
//     separated by dots ("192.168.1.4", 4 bytes), or four or six pairs of
//     hexadecimal digits separated by ':' or '-' ("00:11:22:aa:bb:cc",
//     6 bytes; "de-ad-be-ef", 4 bytes).
//
// Anything else is refused with an error wrapping ErrInvalidPassword that
// states the length of the input but not its content.
func ParsePassword(b []byte) (Password, error) {
	if len(b) == 4 || len(b) == MaxPasswordLen {
		return NewPassword(b)
	}
	s := trimBlanks(b)
	if p, ok := parseDotted(s); ok {
		return p, nil
	}
	if p, ok := parseHexPairs(s); ok {
		return p, nil
	}
	return Password{}, fmt.Errorf("%w: %d bytes that are neither 4 or 6 raw bytes nor the text forms "+
		"a.b.c.d or xx:xx:xx:xx[:xx:xx]", ErrInvalidPassword, len(b))
}

// IsZero reports whether p is the zero Password (no password).
func (p Password) IsZero() bool { return p.n == 0 }

// Len is the password's length: 0, 4 or 6.
func (p Password) Len() int { return int(p.n) }

// Matches reports whether pkt carries exactly this password. The comparison
// takes the same time whatever the bytes compared, so a sender cannot learn
// the password byte by byte from response times. A zero Password matches
// only a packet without a password.
func (p Password) Matches(pkt *Packet) bool {
	// Bytes past the length are zero on both sides, so comparing the whole
	// arrays and the lengths is comparing the passwords.
	same := subtle.ConstantTimeCompare(p.b[:], pkt.Password[:]) &
		subtle.ConstantTimeByteEq(p.n, pkt.PasswordLen)
	return same == 1
}

// String returns "[redacted]" (or "" for the zero Password).
func (p Password) String() string {
	if p.IsZero() {
		return ""
	}
	return "[redacted]"
}

// GoString returns the same as String, so %#v discloses nothing either.
func (p Password) GoString() string { return "wol.Password(" + p.String() + ")" }

// Format implements fmt.Formatter: every verb prints String.
func (p Password) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

func trimBlanks(b []byte) []byte {
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// parseDotted parses "a.b.c.d" with each part 0-255 in 1 to 3 decimal
// digits.
func parseDotted(s []byte) (Password, bool) {
	var p Password
	part, digits := 0, 0
	v := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
			digits++
			if digits > 3 || v > 255 {
				return Password{}, false
			}
		case c == '.':
			if digits == 0 || part == 3 {
				return Password{}, false
			}
			p.b[part] = byte(v)
			part, digits, v = part+1, 0, 0
		default:
			return Password{}, false
		}
	}
	if part != 3 || digits == 0 {
		return Password{}, false
	}
	p.b[3] = byte(v)
	p.n = 4
	return p, true
}

// parseHexPairs parses four or six pairs of hexadecimal digits separated by
// one separator, ':' or '-', used throughout.
func parseHexPairs(s []byte) (Password, bool) {
	var p Password
	if len(s) != 11 && len(s) != 17 {
		return p, false
	}
	n := (len(s) + 1) / 3
	sep := s[2]
	if sep != ':' && sep != '-' {
		return p, false
	}
	for i := range n {
		at := i * 3
		if i > 0 && s[at-1] != sep {
			return Password{}, false
		}
		hi, ok1 := fromHex(s[at])
		lo, ok2 := fromHex(s[at+1])
		if !ok1 || !ok2 {
			return Password{}, false
		}
		p.b[i] = hi<<4 | lo
	}
	p.n = uint8(n)
	return p, true
}
