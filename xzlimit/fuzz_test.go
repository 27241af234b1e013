// SPDX-License-Identifier: Apache-2.0

package xzlimit_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/tailops/tailops/xzlimit"
	xt "github.com/tailops/tailops/xzlimit/xzlimittest"
)

// FuzzXZ decodes whatever bytes with the journal's limits: an error,
// never a panic or a dictionary over the limits; and what decodes whole
// decodes the same with the xz package's own reader. Seeded with a stream
// as journald writes it (testdata/fuzz/FuzzXZ/journald, the journal's
// testdata/journald.xz), a stream of three blocks, and it after empty
// blocks; run with go test -fuzz FuzzXZ ./xzlimit.
func FuzzXZ(f *testing.F) {
	three := xt.Split(text, 4096, xt.Block{Dict: 64 << 10})
	f.Add(xt.Stream{Blocks: three}.Bytes(f))
	f.Add(xt.Stream{Blocks: append([]xt.Block{{}, {}, {}}, three...)}.Bytes(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := xzlimit.NewReader(bytes.NewReader(b), journalLimits)
		if err != nil {
			return
		}
		got, err := io.ReadAll(io.LimitReader(x, 1<<20))
		if err != nil || len(got) == 1<<20 {
			return
		}
		// Every block's dictionary was within the limits: the xz
		// package allocates no more.
		xr, err := xz.ReaderConfig{SingleStream: true}.NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		want, err := io.ReadAll(xr)
		if err == nil && !bytes.Equal(got, want) {
			t.Errorf("decoded %d bytes, the xz package %d", len(got), len(want))
		}
	})
}
