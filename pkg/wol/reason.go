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

import "errors"

// Reason says why a packet or frame was rejected. It implements error, and
// the parse functions return the Reason constants themselves as sentinel
// errors, so a rejection never allocates and can be compared with == or
// errors.Is. String returns a short snake_case token from a fixed set,
// suitable as a Prometheus label value.
type Reason uint8

// Rejection reasons. The zero Reason means "no rejection".
const (
	// ReasonTooShort: the data cannot hold a magic packet (or an Ethernet
	// header).
	ReasonTooShort Reason = iota + 1
	// ReasonNoSync: no synchronisation stream (six 0xFF bytes) was found.
	ReasonNoSync
	// ReasonMismatch: a synchronisation stream was found but the sixteen
	// address repetitions after it disagree (or are cut short).
	ReasonMismatch
	// ReasonBadTarget: a well-formed magic packet names a zero, broadcast or
	// multicast address, which cannot identify a machine.
	ReasonBadTarget
	// ReasonNotWoLEthertype: an Ethernet frame whose ethertype (after an
	// optional 802.1Q tag) is not 0x0842.
	ReasonNotWoLEthertype

	numReasons = iota + 1 // one past the last reason
)

var reasonNames = [numReasons]string{
	0:                     "none",
	ReasonTooShort:        "too_short",
	ReasonNoSync:          "no_sync",
	ReasonMismatch:        "mismatch",
	ReasonBadTarget:       "bad_target",
	ReasonNotWoLEthertype: "not_wol_ethertype",
}

var reasonErrors = [numReasons]string{
	0:                     "wol: no error",
	ReasonTooShort:        "wol: data too short for a magic packet",
	ReasonNoSync:          "wol: no synchronisation stream",
	ReasonMismatch:        "wol: target address repetitions disagree",
	ReasonBadTarget:       "wol: target is a zero, broadcast or multicast address",
	ReasonNotWoLEthertype: "wol: ethertype is not 0x0842",
}

// String returns the metric-label form of r, for example "no_sync". Values
// outside the defined set return "unknown".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Error implements error with a human-readable message.
func (r Reason) Error() string {
	if int(r) < len(reasonErrors) {
		return reasonErrors[r]
	}
	return "wol: unknown rejection reason"
}

// Reasons returns every defined rejection reason, in a stable order. It lets
// callers pre-create one metric series per reason.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := Reason(1); r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// ReasonOf extracts the Reason from an error returned by this package. It
// returns 0 for a nil error or an error that carries no Reason.
func ReasonOf(err error) Reason {
	if r, ok := err.(Reason); ok {
		return r
	}
	var r Reason
	if errors.As(err, &r) {
		return r
	}
	return 0
}
