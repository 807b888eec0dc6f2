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

package wol_test

import (
	"fmt"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func ExampleParsePayload() {
	target, _ := wol.ParseMAC("52:54:00:12:34:56")
	payload := wol.AppendMagic(nil, target, []byte{192, 168, 1, 1})

	p, err := wol.ParsePayload(payload)
	fmt.Printf("%v %v %v\n", p.Target, p.PasswordBytes(), err)

	_, err = wol.ParsePayload([]byte("hello"))
	fmt.Println(wol.ReasonOf(err).String())
	// Output:
	// 52:54:00:12:34:56 [192 168 1 1] <nil>
	// too_short
}
