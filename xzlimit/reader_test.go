// SPDX-License-Identifier: Apache-2.0

package xzlimit_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/tailops/tailops/xzlimit"
	xt "github.com/tailops/tailops/xzlimit/xzlimittest"
)

const (
	kib4  = 4 << 10
	mib8  = 8 << 20 // xz -6's dictionary, its default
	mib12 = 12 << 20
	gib4  = 1<<32 - 1 // the most an LZMA2 header can ask for
)

// journalLimits are the journal's: 8 MiB a block, 32 MiB together.
var journalLimits = xzlimit.Limits{Dict: mib8, Total: 4 * mib8}

// text is data that compresses well, 10,400 bytes.
var text = bytes.Repeat([]byte("a long, compressible line "), 400)

// decode reads src whole with a Reader newReader makes of l, and says
// how many bytes that allocated, besides the size bytes the output is
// given.
func decode(t *testing.T, newReader func(io.Reader, xzlimit.Limits) (*xzlimit.Reader, error), src []byte, l xzlimit.Limits, size int) (out []byte, allocated uint64, err error) {
	t.Helper()
	out = make([]byte, 0, size+1) // and room to read the end
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	defer func() {
		runtime.ReadMemStats(&m1)
		allocated = m1.TotalAlloc - m0.TotalAlloc
	}()
	x, err := newReader(bytes.NewReader(src), l)
	if err != nil {
		return nil, 0, err
	}
	for {
		if len(out) == cap(out) {
			out = slices.Grow(out, 4096)
		}
		k, err := x.Read(out[len(out):cap(out)])
		out = out[:len(out)+k]
		if err == io.EOF {
			return out, 0, nil
		}
		if err != nil {
			return out, 0, err
		}
	}
}

// TestDictionaryOverLimitIsNotAllocated: the xz package's reader
// allocates the dictionary a block header asks for, whatever it is told
// (up to 4 GiB). A Reader refuses a block asking for more than
// Limits.Dict with ErrDict, without the allocation, whether it is the
// first block or a later one (whose predecessors are read), and so blocks
// asking for more than Limits.Total together (each block gets a
// dictionary of its own, and 16 bytes make one); a block whose header
// gives its size counts no more than that.
func TestDictionaryOverLimitIsNotAllocated(t *testing.T) {
	empty := func(n int, dict int64, sizes bool) []xt.Block {
		return slices.Repeat([]xt.Block{{Dict: dict, Sizes: sizes}}, n)
	}
	for _, tc := range []struct {
		name   string
		blocks []xt.Block
		read   []byte // what is read before the error, or all of it
		err    bool   // ErrDict
	}{
		{"one block of 4 GiB", []xt.Block{{Data: text, Dict: gib4}}, nil, true},
		{"one block of 12 MiB", []xt.Block{{Data: text, Dict: mib12}}, nil, true},
		{"one block of 12 MiB giving its size", []xt.Block{{Data: text, Dict: mib12, Sizes: true}}, nil, true},
		{"one block of 8 MiB", []xt.Block{{Data: text, Dict: mib8}}, text, false},
		{"second block of 4 GiB", []xt.Block{{Data: text[:4096]}, {Data: text[4096:], Dict: gib4}}, text[:4096], true},
		{"64 empty blocks of 8 MiB, then the data", append(empty(64, mib8, false), xt.Block{Data: text}), nil, true},
		{"3 empty blocks of 8 MiB, then the data", append(empty(3, mib8, false), xt.Block{Data: text}), text, false},
		{"64 empty blocks of 8 MiB giving their size, then the data", append(empty(64, mib8, true), xt.Block{Data: text}), text, false},
		{"4 blocks of 8 MiB", xt.Split(text, 2600, xt.Block{Dict: mib8}), text, false},
		{"5 blocks of 8 MiB", xt.Split(text, 2080, xt.Block{Dict: mib8}), text[:4*2080], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := xt.Stream{Check: xt.CheckCRC64, Blocks: tc.blocks}.Bytes(t)
			got, allocated, err := decode(t, xzlimit.NewReader, src, journalLimits, len(text))
			if allocated > uint64(journalLimits.Total)+1<<20 {
				t.Errorf("reading allocated %d MiB", allocated>>20)
			}
			if errors.Is(err, xzlimit.ErrDict) != tc.err || (err != nil && !tc.err) {
				t.Errorf("error %v, want ErrDict: %v", err, tc.err)
			}
			if !bytes.Equal(got, tc.read) {
				t.Errorf("read %d bytes, want %d", len(got), len(tc.read))
			}
		})
	}
}
