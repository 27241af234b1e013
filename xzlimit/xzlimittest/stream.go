// SPDX-License-Identifier: Apache-2.0

// Package xzlimittest makes xz streams for tests: blocks that ask for
// whatever dictionary, with or without their sizes in their headers,
// then an index and a footer that match, as xz(1) writes them.
package xzlimittest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"slices"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// Check types of the stream flags.
const (
	CheckNone   = 0x00
	CheckCRC32  = 0x01
	CheckCRC64  = 0x04 // xz(1)'s default
	CheckSHA256 = 0x0a
)

// Block is one block of a Stream.
type Block struct {
	// Data is what the block decodes to.
	Data []byte
	// Dict is the dictionary the block's header asks for, in bytes,
	// rounded up to one LZMA2 can say; 0 is 4 KiB, the least. The data
	// is compressed with a 4 KiB dictionary, so any size decodes it.
	Dict int64
	// Sizes has the header give the block's compressed and
	// uncompressed sizes, as multi-threaded xz writes it.
	Sizes bool
}

// Stream is an xz stream.
type Stream struct {
	// Check is the check type (CheckNone, the zero value, CheckCRC32,
	// CheckCRC64 or CheckSHA256).
	Check byte
	// Blocks are the stream's blocks, in order.
	Blocks []Block
}

// Split returns the blocks of data cut every size bytes, each like b
// but for its Data.
func Split(data []byte, size int, b Block) []Block {
	var out []Block
	for c := range slices.Chunk(data, size) {
		b.Data = c
		out = append(out, b)
	}
	return out
}

// Bytes returns the stream.
func (s Stream) Bytes(tb testing.TB) []byte {
	tb.Helper()
	le := binary.LittleEndian
	flags := []byte{0, s.Check}
	out := append([]byte("\xfd7zXZ\x00"), flags...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(flags))
	index := []byte{0} // the index indicator
	index = binary.AppendUvarint(index, uint64(len(s.Blocks)))
	for _, b := range s.Blocks {
		var data bytes.Buffer
		w, err := lzma.Writer2Config{DictCap: lzma.MinDictCap}.NewWriter2(&data)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(b.Data); err != nil {
			tb.Fatal(err)
		}
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
		h := []byte{0, 0} // the header's size, flags
		if b.Sizes {
			h[1] = 0xc0
			h = binary.AppendUvarint(h, uint64(data.Len()))
			h = binary.AppendUvarint(h, uint64(len(b.Data)))
		}
		h = append(h, 0x21, 0x01, lzma.EncodeDictCap(max(b.Dict, lzma.MinDictCap))) // LZMA2, its property
		h = pad(h)
		h[0] = byte(len(h) / 4) // (the size with the CRC32) / 4 - 1
		h = le.AppendUint32(h, crc32.ChecksumIEEE(h))
		sum := check(tb, s.Check, b.Data)
		out = append(pad(append(append(out, h...), data.Bytes()...)), sum...)
		index = binary.AppendUvarint(index, uint64(len(h)+data.Len()+len(sum))) // the unpadded size
		index = binary.AppendUvarint(index, uint64(len(b.Data)))
	}
	index = pad(index)
	index = le.AppendUint32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)
	footer := le.AppendUint32(nil, uint32(len(index)/4-1)) // the backward size
	footer = append(footer, flags...)
	out = le.AppendUint32(out, crc32.ChecksumIEEE(footer))
	return append(append(out, footer...), "YZ"...)
}

// pad appends zeros to b up to a multiple of 4 bytes.
func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// check returns the check of data of the check type id, as a block
// stores it.
func check(tb testing.TB, id byte, data []byte) []byte {
	tb.Helper()
	var h hash.Hash
	switch id {
	case CheckNone:
		return nil
	case CheckCRC32:
		h = crc32.NewIEEE()
	case CheckCRC64:
		h = crc64.New(crc64.MakeTable(crc64.ECMA))
	case CheckSHA256:
		h = sha256.New()
	default:
		tb.Fatalf("no check type %#x", id)
	}
	h.Write(data)
	sum := h.Sum(nil)
	if id != CheckSHA256 {
		slices.Reverse(sum) // the CRCs are stored little-endian
	}
	return sum
}
