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

import "encoding/binary"

// AppendMagic appends a magic packet for mac to dst and returns the extended
// slice: the synchronisation stream, sixteen repetitions of mac, then
// password verbatim. A SecureOn password is 4 or 6 bytes; other lengths are
// appended as given, which is useful to build trailing junk in tests.
func AppendMagic(dst []byte, mac MAC, password []byte) []byte {
	dst = append(dst, syncStream[:]...)
	for range Repetitions {
		dst = append(dst, mac[:]...)
	}
	return append(dst, password...)
}

// AppendFrame appends an Ethernet II frame built from f to dst and returns
// the extended slice: f.Dst, f.Src, an 802.1Q tag with identifier f.VLAN if
// f.Tagged, ethertype 0x0842 and the magic packet for f.Target with the
// password f.PasswordBytes(). ParseFrame of the result returns f.
func AppendFrame(dst []byte, f Frame) []byte {
	dst = append(dst, f.Dst[:]...)
	dst = append(dst, f.Src[:]...)
	if f.Tagged {
		dst = binary.BigEndian.AppendUint16(dst, EtherTypeVLAN)
		dst = binary.BigEndian.AppendUint16(dst, f.VLAN&0x0fff)
	}
	dst = binary.BigEndian.AppendUint16(dst, EtherType)
	return AppendMagic(dst, f.Target, f.PasswordBytes())
}
