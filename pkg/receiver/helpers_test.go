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

package receiver

import (
	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// testMAC returns a distinct unicast, locally administered MAC.
func testMAC(i int) wol.MAC { return wol.MAC{0x02, 0x57, 0x4f, 0x4c, byte(i >> 8), byte(i)} }
