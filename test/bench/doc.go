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

// Package bench holds the cross-package macro benchmarks of `make bench`:
// the listener under a packet flood (BenchmarkFlood), the latency from a
// magic packet to an accepted start (BenchmarkWakeLatency), the listener
// process with 1,000 and 10,000 VirtualMachines (BenchmarkScale), and the
// operator's API writes while VMs churn (BenchmarkIdleCost). Each measures
// a baseline in the same run and reports both with b.ReportMetric, in the
// units hack/benchreport reads; none asserts a duration.
//
// They need root (network namespaces, CPU pinning) and the envtest binaries
// and bin/listener (`make build-bin envtest-assets`), and run only when
// selected with -bench, each with -benchtime=1x. See docs/performance.md.
package bench
