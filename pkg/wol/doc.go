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

// Package wol parses Wake-on-LAN magic packets.
//
// A magic packet is a synchronisation stream of six 0xFF bytes followed by
// the target MAC address repeated sixteen times, optionally followed by a
// 4- or 6-byte SecureOn password. It is carried either as the payload of a
// UDP datagram (any port; 9 and 7 by convention) or directly as the payload
// of an Ethernet II frame with ethertype 0x0842.
//
// The package is pure: it performs no I/O, keeps no state, and parsing a
// packet, valid or not, makes no heap allocation. Rejections are reported as
// a [Reason], a small error type whose String values form a bounded set
// suitable for metric labels.
package wol
