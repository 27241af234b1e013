// SPDX-License-Identifier: Apache-2.0

package xzlimit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/tailops/tailops/xzlimit"
	xt "github.com/tailops/tailops/xzlimit/xzlimittest"
)

// aptLimits are the packages tools': xz -9's dictionary a block, twice
// that and what was decoded for all of them, with 64 KiB a block.
var aptLimits = xzlimit.Limits{Dict: 64 << 20, Total: 128 << 20, PerBlock: 64 << 10, GrowWithOutput: true}

// packagesText is what testdata/make-xz.sh compresses.
func packagesText() []byte {
	var b bytes.Buffer
	for i := range 1500 {
		fmt.Fprintf(&b, "Package: pkg%d\nVersion: 1.%d-1\nArchitecture: amd64\n\n", i, i)
	}
	return b.Bytes()
}

// xzFiles are the files testdata/make-xz.sh makes.
var xzFiles = []string{"one-block", "blocks-with-sizes", "blocks-without-sizes", "sha256", "no-check", "preset-9"}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".xz")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readFileAll reads src whole with a file Reader of l, and says how many
// bytes that allocated, besides the size bytes the output is given.
func readFileAll(t *testing.T, src []byte, l xzlimit.Limits, size int) ([]byte, uint64, error) {
	t.Helper()
	return decode(t, xzlimit.NewFileReader, src, l, size)
}

// TestFileAsXZWritesIt: files xz(1) wrote as apt's lists are written (one
// block, as Debian's and Ubuntu's archive tools write them; blocks with
// sizes, as multi-threaded xz does; blocks without; every check type;
// xz -9) read whole within the packages tools' limits, and so do several
// streams one after the other with padding between. Within the journal's (8
// MiB a block, 32 MiB together) xz -9's block is refused, and so are the
// five blocks of 8 MiB that do not give their sizes: the journal's
// fixed total would refuse a list xz -T1 --block-size wrote.
func TestFileAsXZWritesIt(t *testing.T) {
	text := packagesText()
	for _, name := range xzFiles {
		got, _, err := readFileAll(t, readFile(t, name), aptLimits, len(text))
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("%s: read %d bytes, %v; want %d", name, len(got), err, len(text))
		}
		got, _, err = readFileAll(t, readFile(t, name), journalLimits, len(text))
		refused := name == "preset-9" || name == "blocks-without-sizes"
		if errors.Is(err, xzlimit.ErrDict) != refused || (err == nil) == refused || !refused && !bytes.Equal(got, text) {
			t.Errorf("%s within the journal's limits: read %d bytes, %v; want refused: %v", name, len(got), err, refused)
		}
	}
	var all []byte
	streams := []string{"one-block", "blocks-with-sizes", "sha256", "no-check"}
	for i, name := range streams {
		all = append(all, readFile(t, name)...)
		all = append(all, make([]byte, 4*i)...) // stream padding
	}
	got, _, err := readFileAll(t, all, aptLimits, 0)
	if err != nil || !bytes.Equal(got, bytes.Repeat(text, len(streams))) {
		t.Errorf("%v one after the other: read %d bytes, %v; want %d", streams, len(got), err, len(streams)*len(text))
	}
}

// TestFileErrors: a damaged file is an error (never ErrDict), and one the
// xz package's reader also gives: in a block's check, sizes or padding,
// in the index, the footer, the padding after a stream, or what follows
// it.
func TestFileErrors(t *testing.T) {
	le := binary.LittleEndian
	good := readFile(t, "one-block")
	index := len(good) - 12 - int(le.Uint32(good[len(good)-8:])+1)*4
	// hello is a block that says its sizes, "hello" decoded, with its
	// header's uncompressed size (at byte 15) set to n.
	hello := func(n byte) []byte {
		b := xt.Stream{Check: xt.CheckCRC32, Blocks: []xt.Block{{Data: []byte("hello"), Sizes: true}}}.Bytes(t)
		h := b[12 : 12+(int(b[12])+1)*4]
		h[3] = n
		le.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
		return b
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 1
		return b
	}
	for _, tc := range []struct {
		name string
		src  []byte
		want string
	}{
		{"the block's check", flip(index - 1), "block check mismatch"},
		{"an index record", flip(index + 2), "index record differs from its block"},
		{"the index's checksum", flip(len(good) - 13), "index checksum mismatch"},
		{"the footer's index size", flip(len(good) - 8), "footer checksum mismatch"},
		{"the footer's magic", flip(len(good) - 1), "no xz stream footer"},
		{"the stream flags", le.AppendUint32(append(bytes.Clone(good[:6]), 0, 2), crc32.ChecksumIEEE([]byte{0, 2})), "unsupported check type 0x2"},
		{"a block decoding to more than its header says", hello(4), "block decodes to more than its header says"},
		{"a block decoding to less than its header says", hello(6), "block sizes differ from its header's"},
		{"3 bytes of stream padding", append(bytes.Clone(good), 0, 0, 0), "stream padding: unexpected EOF"},
		{"something after the stream", append(bytes.Clone(good), "not an xz stream"...), "no xz stream header"},
		{"the stream cut short", good[:len(good)-1], "unexpected EOF"},
		{"no stream", nil, "unexpected EOF"},
	} {
		_, _, err := readFileAll(t, tc.src, aptLimits, 0)
		if err == nil || errors.Is(err, xzlimit.ErrDict) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
		if r, err := xz.NewReader(bytes.NewReader(tc.src)); err == nil {
			if _, err := io.ReadAll(r); err == nil {
				t.Errorf("%s: the xz package reads it", tc.name)
			}
		}
	}
}

// TestGrowWithOutput: with GrowWithOutput, the blocks may count Total
// plus the bytes decoded before each: any number of blocks that decode
// more than they count read (a block that gives its size counts no more
// dictionary than that), while blocks that decode less, empty ones say,
// are refused as soon as they count more than Total together, without
// allocating more; without it, Total bounds the blocks whatever they
// decode.
func TestGrowWithOutput(t *testing.T) {
	text := packagesText()
	grow := xzlimit.Limits{Dict: 8 << 20, Total: 16 << 20, PerBlock: 64 << 10, GrowWithOutput: true}
	fixed := grow
	fixed.GrowWithOutput = false
	large := xt.Stream{Blocks: slices.Repeat([]xt.Block{{Data: text[:80000]}}, 300)}.Bytes(t) // counting 68 KiB each
	empty := func(n int, sizes bool) []xt.Block {
		return slices.Repeat([]xt.Block{{Dict: 8 << 20, Sizes: sizes}}, n)
	}
	for _, tc := range []struct {
		name   string
		blocks []xt.Block
		l      xzlimit.Limits
		err    bool // ErrDict
	}{
		{"300 blocks of 80,000 bytes, each more than it counts", nil, grow, false},
		{"300 blocks of 80,000 bytes, each more than it counts, fixed total", nil, fixed, true},
		{"blocks of 1000 bytes asking for 8 MiB, giving their sizes", xt.Split(text, 1000, xt.Block{Dict: 8 << 20, Sizes: true}), grow, false},
		{"2 empty blocks of 8 MiB", empty(2, false), grow, true},
		{"a block of 8 MiB, then one of 4 KiB and one of 8 MiB", []xt.Block{{Data: text[:100], Dict: 8 << 20}, {Data: text[:5000]}, {Data: text, Dict: 8 << 20}}, grow, true},
		{"200 empty blocks giving their sizes", empty(200, true), grow, false},
		{"300 empty blocks giving their sizes", empty(300, true), grow, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, want := large, bytes.Repeat(text[:80000], 300)
			if tc.blocks != nil {
				src, want = xt.Stream{Check: xt.CheckCRC64, Blocks: tc.blocks}.Bytes(t), nil
				for _, b := range tc.blocks {
					want = append(want, b.Data...)
				}
			}
			got, allocated, err := readFileAll(t, src, tc.l, len(want))
			// The decoder allocates as it goes, 16 bytes a match (of 2
			// bytes or more).
			if max := uint64(tc.l.Total) + 8*uint64(len(want)) + 2<<20; allocated > max {
				t.Errorf("allocated %d KiB, over %d KiB", allocated>>10, max>>10)
			}
			if errors.Is(err, xzlimit.ErrDict) != tc.err || err != nil && !tc.err {
				t.Errorf("error %v, want ErrDict: %v", err, tc.err)
			}
			if !tc.err && !bytes.Equal(got, want) {
				t.Errorf("read %d bytes, want %d", len(got), len(want))
			}
		})
	}
}
