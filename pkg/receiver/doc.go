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

// Package receiver receives Wake-on-LAN magic packets and hands each wake
// request to a WakeHandler.
//
// A Receiver binds, in the network namespace of the goroutine that calls
// Run:
//
//   - for every configured UDP port, one IPv4 socket on 0.0.0.0 and (unless
//     disabled) one IPv6-only socket on [::], which together receive limited
//     broadcast (255.255.255.255), directed subnet broadcast, IPv6 multicast
//     to ff02::1 and unicast datagrams;
//   - optionally ("raw mode", needs CAP_NET_RAW) AF_PACKET sockets, on all
//     interfaces or on a configured list, that receive Ethernet frames with
//     ethertype 0x0842 (also 802.1Q-tagged). A classic BPF program attached
//     to each socket does the filtering in the kernel.
//
// Each socket has one reader goroutine that receives datagrams in batches
// (recvmmsg) into buffers it owns and parses them with package wol. A valid
// packet goes through one admission step — duplicate suppression per target,
// per-source and global rate limits, and a non-blocking put into a bounded
// queue — and a fixed pool of workers calls the WakeHandler. Nothing in the
// read path waits for the handler, allocates per packet, or shares a buffer
// with another goroutine; every packet that is not delivered is counted with
// its reason.
//
// See docs/receiver.md for the design and docs/metrics.md for the metrics.
package receiver
