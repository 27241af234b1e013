// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

const (
	// maxCompressedSize: a compressed payload larger than this is not
	// read at all (the field is reported as cut). journald compresses
	// single fields; only core dumps come near it.
	maxCompressedSize = 16 << 20
	// maxLZ4Size bounds the buffer an lz4 block decodes into: the block
	// format cannot be decoded in part.
	maxLZ4Size = 8 << 20
	// maxZstdWindow bounds the history a zstd frame may ask for.
	maxZstdWindow = 8 << 20
	// maxXZDict bounds the dictionary an xz block may ask for: the LZMA2
	// decoder allocates all of it before decoding a byte. journald writes
	// 1 MiB (compress_blob_xz), xz's default preset 8 MiB.
	maxXZDict = 8 << 20
	// maxXZDictTotal bounds the dictionaries of all the blocks of one xz
	// stream together: each block gets a new one, and a block can be 16
	// bytes that decode to nothing.
	maxXZDictTotal = 4 * maxXZDict
)

// decoders are made on first use, and kept (see shared).
type decoders struct {
	zstd *zstd.Decoder
}

func (d *decoders) close() {
	if d.zstd != nil {
		d.zstd.Close()
		d.zstd = nil
	}
}

// decompress returns the first limit bytes of a compressed DATA payload of
// n bytes; cut is set if there were more.
func (f *File) decompress(d dataObj, n uint64, limit int) (p []byte, cut bool, err error) {
	src := io.NewSectionReader(f.r, int64(d.payloadOffset), int64(n))
	var r io.Reader
	var algo string
	switch d.flags & (objCompressedXZ | objCompressedLZ4 | objCompressedZstd) {
	case objCompressedZstd:
		algo = "zstd"
		if f.hdr.incompat&incompatZstd == 0 {
			return nil, false, f.corrupt(d.off, "zstd-compressed data object in a file without the zstd flag")
		}
		if f.sh.dec.zstd == nil {
			f.sh.dec.zstd, err = zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow),
				zstd.WithDecoderMaxMemory(maxZstdWindow))
			if err != nil {
				return nil, false, fmt.Errorf("making a zstd decoder: %w", err)
			}
		}
		if err := f.sh.dec.zstd.Reset(src); err != nil {
			return nil, false, f.corrupt(d.payloadOffset, "zstd data: %v", err)
		}
		r = f.sh.dec.zstd
	case objCompressedXZ:
		algo = "xz"
		if f.hdr.incompat&incompatXZ == 0 {
			return nil, false, f.corrupt(d.off, "xz-compressed data object in a file without the xz flag")
		}
		xr, err := newXZReader(src)
		if errors.Is(err, errXZDict) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, f.corrupt(d.payloadOffset, "xz data: %v", err)
		}
		r = xr
	case objCompressedLZ4:
		if f.hdr.incompat&incompatLZ4 == 0 {
			return nil, false, f.corrupt(d.off, "lz4-compressed data object in a file without the lz4 flag")
		}
		return f.lz4(d, n, limit)
	}
	buf := make([]byte, 0, min(limit+1, 4096))
	buf, err = readUpTo(r, buf, limit+1)
	if errors.Is(err, errXZDict) { // a later block's
		return nil, true, nil
	}
	if err != nil {
		return nil, false, f.corrupt(d.payloadOffset, "%s data: %v", algo, err)
	}
	if len(buf) > limit {
		return buf[:limit], true, nil
	}
	return buf, false, nil
}

// readUpTo appends from r to buf until EOF or until buf holds max bytes.
func readUpTo(r io.Reader, buf []byte, max int) ([]byte, error) {
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// lz4 decodes journald's lz4 payload: the decompressed size as a
// little-endian 64-bit number, then one lz4 block.
func (f *File) lz4(d dataObj, n uint64, limit int) ([]byte, bool, error) {
	if n < 8 {
		return nil, false, f.corrupt(d.payloadOffset, "lz4 data of %d bytes, shorter than its size prefix", n)
	}
	b, err := f.readAt(d.payloadOffset, n)
	if err != nil {
		return nil, false, err
	}
	size := binary.LittleEndian.Uint64(b)
	if size > maxLZ4Size {
		return nil, true, nil
	}
	out := make([]byte, size)
	k, err := lz4.UncompressBlock(b[8:], out)
	if err != nil {
		return nil, false, f.corrupt(d.payloadOffset, "lz4 data: %v", err)
	}
	if uint64(k) != size {
		return nil, false, f.corrupt(d.payloadOffset, "lz4 data decodes to %d bytes, its prefix says %d", k, size)
	}
	if k > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// errXZDict: an xz block asks for a dictionary over maxXZDict, or the
// blocks together for more than maxXZDictTotal. The field is then
// reported cut, unread, like an lz4 one over maxLZ4Size.
var errXZDict = errors.New("xz dictionary over the limit")

// xzCheckSize is the size of a block's check for each check type of the
// stream flags.
var xzCheckSize = [16]int64{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// xzReader decodes an xz stream block by block. It reads each block
// header itself, and refuses a dictionary over maxXZDict (or over
// maxXZDictTotal for all the blocks) before the LZMA2 decoder allocates
// it: the xz package's reader takes the dictionary size from the block
// header, however large, whatever ReaderConfig.DictCap says. It stops at
// the index, which it does not check, nor the blocks' checks (journald
// writes none).
type xzReader struct {
	r     countingReader
	check int64         // the size of each block's check
	block *lzma.Reader2 // the current block's data; nil between blocks
	start int64         // where the current block's data began in r
	end   bool          // the index was reached
	dicts int64         // the blocks' dictionaries so far, in bytes
}

// newXZReader reads the stream header and the first block header.
func newXZReader(src io.Reader) (*xzReader, error) {
	x := &xzReader{r: countingReader{r: bufio.NewReaderSize(src, 512)}}
	var h [12]byte
	if _, err := io.ReadFull(&x.r, h[:]); err != nil {
		return nil, fmt.Errorf("stream header: %w", noEOF(err))
	}
	if string(h[:6]) != "\xfd7zXZ\x00" {
		return nil, errors.New("no xz stream header")
	}
	if h[6] != 0 || h[7] > 0x0f || crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return nil, errors.New("bad stream flags")
	}
	x.check = xzCheckSize[h[7]]
	return x, x.nextBlock()
}

// nextBlock reads a block header and starts decoding the block, or
// notes the end of the blocks.
func (x *xzReader) nextBlock() error {
	size, err := x.r.ReadByte()
	if err != nil {
		return fmt.Errorf("block header: %w", noEOF(err))
	}
	if size == 0 {
		x.end = true // the index indicator
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
		return errors.New("more than one filter in a block") // journald uses LZMA2 alone
	}
	rest := h[2:n]
	unpacked := int64(-1)
	for _, present := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if flags&present == 0 {
			continue
		}
		v, k := binary.Uvarint(rest)
		if k <= 0 || k > 9 || v >= 1<<63 {
			return errors.New("bad size in block header")
		}
		if present == 0x80 {
			unpacked = int64(v)
		}
		rest = rest[k:]
	}
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
	if dict > maxXZDict {
		return fmt.Errorf("%w: %d bytes", errXZDict, dict)
	}
	// No match reaches further back than the block's start: a block
	// that says its size needs no more dictionary than that.
	if unpacked >= 0 {
		dict = min(dict, max(unpacked, lzma.MinDictCap))
	}
	if x.dicts += dict; x.dicts > maxXZDictTotal {
		return fmt.Errorf("%w: %d bytes for the blocks so far", errXZDict, x.dicts)
	}
	x.start = x.r.n
	x.block, err = lzma.Reader2Config{DictCap: int(dict)}.NewReader2(&x.r)
	return err
}

func (x *xzReader) Read(p []byte) (int, error) {
	for !x.end {
		if x.block == nil {
			if err := x.nextBlock(); err != nil {
				return 0, err
			}
			continue
		}
		k, err := x.block.Read(p)
		if err != io.EOF {
			return k, err
		}
		// The block's end: padding to a multiple of 4, then its check.
		x.block = nil
		skip := (4-(x.r.n-x.start)%4)%4 + x.check
		if _, err := io.CopyN(io.Discard, &x.r, skip); err != nil {
			return k, fmt.Errorf("block padding and check: %w", noEOF(err))
		}
		if k > 0 {
			return k, nil
		}
	}
	return 0, io.EOF
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
