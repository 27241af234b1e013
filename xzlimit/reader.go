// SPDX-License-Identifier: Apache-2.0

// Package xzlimit decodes xz streams with the memory of their LZMA2
// dictionaries bounded by limits its caller picks. The xz package's
// reader (github.com/ulikunitz/xz) allocates the dictionary each block
// header asks for, up to 4 GiB, before decoding a byte, whatever its
// ReaderConfig.DictCap says; this package reads the container (stream
// and block headers; for a whole file, the blocks' checks, the indexes
// and footers too) itself, checks each block's dictionary against the
// limits, and only then hands the block to that package's LZMA2 decoder
// (github.com/ulikunitz/xz/lzma).
package xzlimit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// Limits bounds the dictionaries a Reader lets the LZMA2 decoder
// allocate. The zero Limits refuses every block.
type Limits struct {
	// Dict is the largest dictionary one block may ask for, in bytes.
	Dict int64
	// Total bounds what all the blocks count together, in bytes: their
	// dictionaries (each block gets one of its own, and a block can be
	// 16 bytes that decode to nothing), and PerBlock each. A block
	// whose header gives its uncompressed size counts no more
	// dictionary than that size (at least 4 KiB).
	Total int64
	// PerBlock counts against Total for each block besides its
	// dictionary: the LZMA2 decoder's own state, which the xz package
	// makes anew for each block (up to some 60 KiB), when the smallest
	// dictionary is 4 KiB.
	PerBlock int64
	// GrowWithOutput adds to Total every byte decoded so far: the
	// blocks then cost at most Total more than the output itself,
	// however many there are. A block within Total is refused only
	// after blocks that decoded less than they counted (smaller than
	// their dictionary, and not saying their size).
	GrowWithOutput bool
}

// ErrDict is the error (by errors.Is) of a block asking for a dictionary
// over Limits.Dict, or of blocks counting more than Limits.Total
// together; the block's dictionary was not allocated.
var ErrDict = errors.New("xz dictionary over the limit")

// checkSize is the size of a block's check for each check type of the
// stream flags.
var checkSize = [16]int64{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// Reader decodes xz data block by block, refusing a dictionary over its
// Limits before the LZMA2 decoder allocates it.
type Reader struct {
	r      countingReader
	l      Limits
	file   bool          // NewFileReader's: all the streams, checked
	flags  [2]byte       // the stream flags
	check  int64         // the size of each block's check
	block  *lzma.Reader2 // the current block's data; nil between blocks
	start  int64         // where the current block's data began in r
	end    bool          // the (last) index was reached
	dicts  int64         // what the blocks so far count (Limits.Total)
	blocks int64         // the blocks so far
	out    int64         // the bytes decoded so far
	err    error         // the first error, returned ever after

	// For a file: the current block's header size, the sizes it
	// gives (-1 if not), its output and check so far, and the
	// records of the stream's blocks for its index.
	headerSize, packed, unpacked, blockOut int64
	sum                                    hash.Hash
	records                                []record
}

// NewReader reads the stream header and the first block header of the
// xz stream src, and returns a Reader of its data within l. It stops at
// the stream's index, which it does not check, nor the blocks' checks
// or padding (journald writes neither).
func NewReader(src io.Reader, l Limits) (*Reader, error) {
	return start(&Reader{r: countingReader{r: bufio.NewReaderSize(src, 512)}, l: l})
}

// start reads x's stream header and first block header.
func start(x *Reader) (*Reader, error) {
	var h [12]byte
	if _, err := io.ReadFull(&x.r, h[:]); err != nil {
		return nil, fmt.Errorf("stream header: %w", noEOF(err))
	}
	if err := x.streamHeader(h); err != nil {
		return nil, err
	}
	if err := x.nextBlock(); err != nil {
		return nil, err
	}
	return x, nil
}

// streamHeader checks a stream header and keeps its flags.
func (x *Reader) streamHeader(h [12]byte) error {
	if string(h[:6]) != "\xfd7zXZ\x00" {
		return errors.New("no xz stream header")
	}
	if h[6] != 0 || h[7] > 0x0f || crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return errors.New("bad stream flags")
	}
	if x.file && newCheck[h[7]] == nil {
		return fmt.Errorf("unsupported check type %#x", h[7])
	}
	x.flags = [2]byte(h[6:8])
	x.check = checkSize[h[7]]
	return nil
}

// nextBlock reads a block header and starts decoding the block, or
// notes the end of the blocks.
func (x *Reader) nextBlock() error {
	size, err := x.r.ReadByte()
	if err != nil {
		return fmt.Errorf("block header: %w", noEOF(err))
	}
	if size == 0 { // the index indicator
		if x.file {
			return x.endStream()
		}
		x.end = true
		return nil
	}
	h := make([]byte, (int(size)+1)*4)
	h[0] = size
	if _, err := io.ReadFull(&x.r, h[1:]); err != nil {
		return fmt.Errorf("block header: %w", noEOF(err))
	}
	n := len(h) - 4
	if crc32.ChecksumIEEE(h[:n]) != binary.LittleEndian.Uint32(h[n:]) {
		return errors.New("block header checksum mismatch")
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return errors.New("reserved block flags set")
	}
	if flags&0x03 != 0 {
		return errors.New("more than one filter in a block") // journald and the archives use LZMA2 alone
	}
	rest := h[2:n]
	sizes := [2]int64{-1, -1} // compressed, uncompressed
	for i, present := range []byte{0x40, 0x80} {
		if flags&present == 0 {
			continue
		}
		v, k := binary.Uvarint(rest)
		if k <= 0 || k > 9 || v >= 1<<63 {
			return errors.New("bad size in block header")
		}
		sizes[i] = int64(v)
		rest = rest[k:]
	}
	unpacked := sizes[1]
	if len(rest) < 3 || rest[0] != 0x21 || rest[1] != 1 {
		return errors.New("block filter is not LZMA2")
	}
	dict, err := lzma.DecodeDictCap(rest[2])
	if err != nil {
		return err
	}
	for _, b := range rest[3:] {
		if b != 0 {
			return errors.New("block header padding not zero")
		}
	}
	if dict > x.l.Dict {
		return fmt.Errorf("%w: a block asks for %s, over %s", ErrDict, formatSize(dict), formatSize(x.l.Dict))
	}
	// No match reaches further back than the block's start: a block
	// that says its size needs no more dictionary than that.
	if unpacked >= 0 {
		dict = min(dict, max(unpacked, lzma.MinDictCap))
	}
	x.blocks++
	if x.dicts += dict + x.l.PerBlock; x.dicts > x.budget() {
		return x.overBudget()
	}
	x.start = x.r.n
	if x.file {
		x.headerSize, x.packed, x.unpacked, x.blockOut = int64(len(h)), sizes[0], sizes[1], 0
		x.sum = newCheck[x.flags[1]]()
	}
	x.block, err = lzma.Reader2Config{DictCap: int(dict)}.NewReader2(&x.r)
	return err
}

// budget is what the blocks may count together so far.
func (x *Reader) budget() int64 {
	if x.l.GrowWithOutput {
		return x.l.Total + x.out
	}
	return x.l.Total
}

// overBudget is the error of blocks counting more than the budget.
func (x *Reader) overBudget() error {
	counted, allowed := "ask for", formatSize(x.budget())
	if x.l.PerBlock > 0 {
		counted = fmt.Sprintf("count (their dictionaries, and %s each)", formatSize(x.l.PerBlock))
	}
	if x.l.GrowWithOutput {
		allowed += fmt.Sprintf(" (%s, and the %s decoded so far)", formatSize(x.l.Total), formatSize(x.out))
	}
	return fmt.Errorf("%w: the %d blocks so far %s %s together, over %s", ErrDict, x.blocks, counted, formatSize(x.dicts), allowed)
}

// Read reads the decoded data.
func (x *Reader) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	k, err := x.read(p)
	x.out += int64(k)
	if err != nil {
		x.err = err
	}
	return k, err
}

func (x *Reader) read(p []byte) (int, error) {
	for !x.end {
		if x.block == nil {
			if err := x.nextBlock(); err != nil {
				return 0, err
			}
			continue
		}
		k, err := x.block.Read(p)
		if x.file {
			if err := x.blockData(p[:k]); err != nil {
				return k, err
			}
		}
		if err != io.EOF {
			return k, err
		}
		x.block = nil
		if x.file {
			err = x.endBlock()
		} else {
			// Padding to a multiple of 4, then the check.
			skip := (4-(x.r.n-x.start)%4)%4 + x.check
			if _, err = io.CopyN(io.Discard, &x.r, skip); err != nil {
				err = fmt.Errorf("block padding and check: %w", noEOF(err))
			}
		}
		if err != nil || k > 0 {
			return k, err
		}
	}
	return 0, io.EOF
}

// formatSize formats a number of bytes as a person reads it: "64 MiB",
// "4096.0 MiB", "12 KiB", "1.5 KiB", "100 bytes".
func formatSize(n int64) string {
	switch {
	case n%(1<<20) == 0 && n > 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n%(1<<10) == 0 && n > 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: the stream ended early.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
