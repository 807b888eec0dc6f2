package wol_test

import (
	"fmt"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

func ExampleParsePayload() {
	target, _ := wol.ParseMAC("52:54:00:12:34:56")
	payload := wol.AppendMagic(nil, target, []byte{192, 168, 1, 1})

	p, err := wol.ParsePayload(payload)
	fmt.Println(p.Target, p.PasswordBytes(), err)

	_, err = wol.ParsePayload([]byte("hello"))
	fmt.Println(wol.ReasonOf(err).String())
	// Output:
	// 52:54:00:12:34:56 [192 168 1 1] <nil>
	// too_short
}
