// SPDX-License-Identifier: Apache-2.0

package xzlimittest

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
)

// TestStreamAsTheXZPackageReadsIt: the streams made are valid: the xz
// package's reader (which checks the index, footer and checks) reads
// them back, with every check type, with and without sizes in the block
// headers, with no block at all.
func TestStreamAsTheXZPackageReadsIt(t *testing.T) {
	data := bytes.Repeat([]byte("a line of a Packages list\n"), 300)
	for _, s := range []Stream{
		{Check: CheckNone, Blocks: []Block{{Data: data}}},
		{Check: CheckCRC32, Blocks: Split(data, 1000, Block{Sizes: true})},
		{Check: CheckCRC64, Blocks: Split(data, 999, Block{Dict: 1 << 20})},
		{Check: CheckSHA256, Blocks: append([]Block{{}, {Sizes: true}}, Split(data, 4096, Block{Sizes: true})...)},
		{Check: CheckCRC64},
	} {
		r, err := xz.NewReader(bytes.NewReader(s.Bytes(t)))
		if err != nil {
			t.Fatalf("check %#x: %v", s.Check, err)
		}
		got, err := io.ReadAll(r)
		want := data
		if len(s.Blocks) == 0 {
			want = nil
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("check %#x, %d blocks: read %d bytes, %v; want %d", s.Check, len(s.Blocks), len(got), err, len(want))
		}
	}
}
