// SPDX-License-Identifier: Apache-2.0

package xzlimit_test

import (
	"bytes"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/tailops/tailops/xzlimit"
	xt "github.com/tailops/tailops/xzlimit/xzlimittest"
)

// FuzzXZ decodes whatever bytes with NewReader, within the journal's
// limits, and with NewFileReader: an error, never a panic or a
// dictionary over the limits; and what decodes whole decodes the same
// with the xz package's own reader (single-stream, then whole-file),
// which reads whole what NewFileReader does. Seeded with a stream as
// journald writes it (testdata/fuzz/FuzzXZ/journald, the journal's
// testdata/journald.xz), the files of testdata/make-xz.sh (xz(1)'s),
// two of them one after the other, and streams of blocks with and
// without sizes, after empty blocks; run with go test -fuzz FuzzXZ
// ./xzlimit.
func FuzzXZ(f *testing.F) {
	three := xt.Split(text, 4096, xt.Block{Dict: 64 << 10})
	f.Add(xt.Stream{Blocks: three}.Bytes(f))
	f.Add(xt.Stream{Check: xt.CheckCRC32, Blocks: append([]xt.Block{{}, {Sizes: true}, {}}, three...)}.Bytes(f))
	files := map[string][]byte{}
	for _, name := range xzFiles {
		b, err := os.ReadFile("testdata/" + name + ".xz")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		files[name] = b
	}
	f.Add(slices.Concat(files["one-block"], []byte{0, 0, 0, 0}, files["blocks-with-sizes"]))
	fileLimits := xzlimit.Limits{Dict: 8 << 20, Total: 16 << 20, PerBlock: 64 << 10, GrowWithOutput: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Every block's dictionary read whole was within the limits:
		// the xz package allocates no more.
		if got, ok := readWhole(xzlimit.NewReader, b, journalLimits); ok {
			compare(t, got, xz.ReaderConfig{SingleStream: true}, b, false)
		}
		if got, ok := readWhole(xzlimit.NewFileReader, b, fileLimits); ok {
			compare(t, got, xz.ReaderConfig{}, b, true)
		}
	})
}

// readWhole reads b with a Reader newReader makes of l, and says whether
// it read it whole, to the end and within 1 MiB.
func readWhole(newReader func(io.Reader, xzlimit.Limits) (*xzlimit.Reader, error), b []byte, l xzlimit.Limits) ([]byte, bool) {
	x, err := newReader(bytes.NewReader(b), l)
	if err != nil {
		return nil, false
	}
	got, err := io.ReadAll(io.LimitReader(x, 1<<20))
	return got, err == nil && len(got) < 1<<20
}

// compare fails t if the xz package's reader of c reads b as other than
// got, or, with must, does not read it whole.
func compare(t *testing.T, got []byte, c xz.ReaderConfig, b []byte, must bool) {
	t.Helper()
	xr, err := c.NewReader(bytes.NewReader(b))
	var want []byte
	if err == nil {
		want, err = io.ReadAll(xr)
	}
	switch {
	case err != nil && must:
		t.Errorf("read %d bytes whole; the xz package: %v", len(got), err)
	case err == nil && !bytes.Equal(got, want):
		t.Errorf("decoded %d bytes, the xz package %d", len(got), len(want))
	}
}
