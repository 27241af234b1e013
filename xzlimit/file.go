// SPDX-License-Identifier: Apache-2.0

package xzlimit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"slices"
)

// NewFileReader reads the first stream header and block header of the
// .xz file src, and returns a Reader of its data within l. Unlike
// NewReader's, it reads the file as xz(1) does: every stream (a file may
// be several, with zero padding between them), each block's padding,
// sizes and check (CRC32, CRC64 or SHA-256), each index and footer.
// l bounds all the blocks of all the streams together.
func NewFileReader(src io.Reader, l Limits) (*Reader, error) {
	return start(&Reader{r: countingReader{r: bufio.NewReaderSize(src, 64<<10)}, l: l, file: true})
}

// crc64Table is xz's CRC64's.
var crc64Table = crc64.MakeTable(crc64.ECMA)

// newCheck makes the hash of each check type of the stream flags a
// file's blocks may have, nil for none; the others are not supported
// (xz(1) writes none of them).
var newCheck = [16]func() hash.Hash{
	0x00: func() hash.Hash { return nil },
	0x01: func() hash.Hash { return crc32.NewIEEE() },
	0x04: func() hash.Hash { return crc64.New(crc64Table) },
	0x0a: sha256.New,
}

// record is an index record: a block's unpadded size (its header,
// compressed data and check) and its uncompressed size.
type record struct{ unpadded, uncompressed int64 }

// blockData checks the data p the current block decoded against the
// size its header gives, and adds it to the block's check.
func (x *Reader) blockData(p []byte) error {
	x.blockOut += int64(len(p))
	if x.unpacked >= 0 && x.blockOut > x.unpacked {
		return errors.New("block decodes to more than its header says")
	}
	if x.sum != nil {
		x.sum.Write(p)
	}
	return nil
}

// endBlock reads a block's padding and check, and checks its sizes.
func (x *Reader) endBlock() error {
	packed := x.r.n - x.start
	if x.packed >= 0 && packed != x.packed || x.unpacked >= 0 && x.blockOut != x.unpacked {
		return errors.New("block sizes differ from its header's")
	}
	pad := make([]byte, (4-packed%4)%4+x.check)
	if _, err := io.ReadFull(&x.r, pad); err != nil {
		return fmt.Errorf("block padding and check: %w", noEOF(err))
	}
	stored := pad[len(pad)-int(x.check):]
	if !allZero(pad[:len(pad)-len(stored)]) {
		return errors.New("block padding not zero")
	}
	if x.sum != nil {
		sum := x.sum.Sum(nil)
		if x.flags[1] != 0x0a {
			slices.Reverse(sum) // the CRCs are stored little-endian
		}
		if !bytes.Equal(sum, stored) {
			return errors.New("block check mismatch")
		}
	}
	x.records = append(x.records, record{x.headerSize + packed + x.check, x.blockOut})
	return nil
}

// endStream reads a stream's index (its indicator read) and footer,
// checking them against the blocks read, then the padding after it and
// the next stream's header, or notes the end of the file.
func (x *Reader) endStream() error {
	index := crc32.NewIEEE()
	index.Write([]byte{0})
	r := &indexReader{r: &x.r, sum: index, n: 1}
	n, err := r.vli()
	if err != nil {
		return err
	}
	if n != int64(len(x.records)) {
		return fmt.Errorf("index of %d blocks after %d blocks", n, len(x.records))
	}
	for _, rec := range x.records {
		var got record
		if got.unpadded, err = r.vli(); err != nil {
			return err
		}
		if got.uncompressed, err = r.vli(); err != nil {
			return err
		}
		if got != rec {
			return errors.New("index record differs from its block")
		}
	}
	for r.n%4 != 0 {
		if b, err := r.ReadByte(); err != nil || b != 0 {
			return errors.New("bad index padding")
		}
	}
	var tail [16]byte // the index's CRC32, then the footer
	if _, err := io.ReadFull(&x.r, tail[:]); err != nil {
		return fmt.Errorf("index and footer: %w", noEOF(err))
	}
	le := binary.LittleEndian
	f := tail[4:]
	switch {
	case le.Uint32(tail[:4]) != index.Sum32():
		return errors.New("index checksum mismatch")
	case le.Uint32(f[:4]) != crc32.ChecksumIEEE(f[4:10]):
		return errors.New("footer checksum mismatch")
	case (int64(le.Uint32(f[4:8]))+1)*4 != r.n+4:
		return errors.New("footer's index size differs from the index's")
	case [2]byte(f[8:10]) != x.flags:
		return errors.New("footer's stream flags differ from the header's")
	case string(f[10:12]) != "YZ":
		return errors.New("no xz stream footer")
	}
	x.records = x.records[:0]
	// Stream padding, in groups of 4 zeros, then another stream or the
	// end of the file.
	for {
		var h [12]byte
		k, err := io.ReadFull(&x.r, h[:4])
		if k == 0 && err == io.EOF {
			x.end = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("stream padding: %w", noEOF(err))
		}
		if allZero(h[:4]) {
			continue
		}
		if _, err := io.ReadFull(&x.r, h[4:]); err != nil {
			return fmt.Errorf("stream header: %w", noEOF(err))
		}
		return x.streamHeader(h)
	}
}

// indexReader reads an index's bytes, adding them to its checksum and
// counting them.
type indexReader struct {
	r   io.ByteReader
	sum hash.Hash32
	n   int64
}

func (r *indexReader) ReadByte() (byte, error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("index: %w", noEOF(err))
	}
	r.sum.Write([]byte{b})
	r.n++
	return b, nil
}

// vli reads a number as xz encodes it: 7 bits a byte, low first, in at
// most 9 bytes, without a last byte of zero.
func (r *indexReader) vli() (int64, error) {
	var v uint64
	for i := range 9 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == 0 && i > 0 {
			return 0, errors.New("index number not in its shortest form")
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return int64(v), nil
		}
	}
	return 0, errors.New("index number over 63 bits")
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
