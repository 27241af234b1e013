// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/tailops/tailops/xzlimit"
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
	// decoder allocates all of it before decoding a byte (see xzlimit).
	// journald writes 1 MiB (compress_blob_xz), xz's default preset 8 MiB.
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
		xr, err := xzlimit.NewReader(src, xzlimit.Limits{Dict: maxXZDict, Total: maxXZDictTotal})
		if errors.Is(err, xzlimit.ErrDict) { // over a limit: the field is cut, unread, like an lz4 one over maxLZ4Size
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
	if errors.Is(err, xzlimit.ErrDict) { // a later block's
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
