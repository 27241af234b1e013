// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// splicedData is a DATA object appendEntry adds: its payload as stored
// and its compression flag (0 for none).
type splicedData struct {
	payload []byte
	flag    uint8
}

// appendEntry returns the compact journal file b with DATA objects for
// objs and an ENTRY object appended, the entry's items naming objs[i] for
// each i of items, in that order; the last item of the entry arrays then
// names the new entry (in place of the file's last one, whose head it
// copies). The objects are in no hash table: it makes files to read
// whole, not to match in. The incompatible flag of each compression used
// is set.
func appendEntry(tb testing.TB, b []byte, objs []splicedData, items []int) []byte {
	tb.Helper()
	b = bytes.Clone(b)
	f, err := newFile("splice", bytes.NewReader(b), func() (int64, error) { return int64(len(b)), nil }, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if !f.compact() {
		tb.Fatal("appendEntry writes compact files only")
	}
	all, err := f.newList(0, f.hdr.entryArrayOff, f.hdr.nEntries)
	if err != nil {
		tb.Fatal(err)
	}
	last := all.arrays[len(all.arrays)-1]
	itemPos := last.off + entryArrayFixedSize + uint64(last.n-1)*4
	lastOff, err := all.at(all.len() - 1)
	if err != nil {
		tb.Fatal(err)
	}
	lh, err := f.entryHead(lastOff)
	if err != nil {
		tb.Fatal(err)
	}
	le := binary.LittleEndian
	pad := func() {
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
	}
	incompat := map[uint8]uint32{objCompressedXZ: incompatXZ, objCompressedLZ4: incompatLZ4, objCompressedZstd: incompatZstd}
	offs := make([]uint64, len(objs))
	for i, o := range objs {
		pad()
		offs[i] = uint64(len(b))
		obj := make([]byte, dataFixedSize+dataCompactExtra)
		obj[0], obj[1] = objData, o.flag
		le.PutUint64(obj[8:], uint64(len(obj)+len(o.payload)))
		b = append(append(b, obj...), o.payload...)
		le.PutUint32(b[hdrIncompatFlags:], le.Uint32(b[hdrIncompatFlags:])|incompat[o.flag])
	}
	pad()
	entOff := uint64(len(b))
	ent := make([]byte, entryFixedSize+len(items)*4)
	ent[0] = objEntry
	le.PutUint64(ent[8:], uint64(len(ent)))
	le.PutUint64(ent[16:], lh.seqnum)
	le.PutUint64(ent[24:], lh.realtime)
	le.PutUint64(ent[32:], lh.monotonic)
	copy(ent[40:56], lh.bootID[:])
	for i, k := range items {
		le.PutUint32(ent[entryFixedSize+i*4:], uint32(offs[k]))
	}
	b = append(b, ent...)
	le.PutUint32(b[itemPos:], uint32(entOff))
	return b
}

// smallJournal returns a compact journal file of 5 entries, written by
// journald's code, for appendEntry.
func smallJournal(tb testing.TB) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "x.journal")
	writeJournal(tb, path, layout{compact: true, keyed: true}, genEntries(0, 5))
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// lastEntry reads the last entry of the journal file b, and says how
// many bytes reading it allocated.
func lastEntry(tb testing.TB, b []byte, opts *Options) (e *Entry, allocated uint64) {
	tb.Helper()
	f, err := newFile("x", bytes.NewReader(b), func() (int64, error) { return int64(len(b)), nil }, opts)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	r, err := f.Reader()
	if err != nil {
		tb.Fatal(err)
	}
	r.SeekTail()
	if e, err = r.Prev(); err != nil {
		tb.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	return e, m1.TotalAlloc - m0.TotalAlloc
}

// lz4Data is p as journald stores it lz4-compressed: its size as 64-bit
// little-endian, then one lz4 block.
func lz4Data(tb testing.TB, p []byte) splicedData {
	tb.Helper()
	c := make([]byte, 8+lz4.CompressBlockBound(len(p)))
	binary.LittleEndian.PutUint64(c, uint64(len(p)))
	n, err := lz4.CompressBlock(p, c[8:], nil)
	if err != nil || n == 0 {
		tb.Fatalf("lz4: %d, %v", n, err)
	}
	return splicedData{c[:8+n], objCompressedLZ4}
}

// xzData is p as an xz stream without check, in blocks of blockSize
// bytes, with the LZMA2 dictionary size property of block i set to
// dictProp[i] where given (40 claims 4 GiB), as journald stores it
// xz-compressed (in one block).
func xzData(tb testing.TB, p []byte, blockSize int64, dictProp map[int]byte) splicedData {
	tb.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 64 << 10, NoCheckSum: true, BlockSize: blockSize}.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(p)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	c := buf.Bytes()
	// The index, which the footer's backward size finds, gives the
	// blocks' sizes: each is padded to a multiple of 4.
	le := binary.LittleEndian
	index := bytes.NewReader(c[len(c)-12-(int(le.Uint32(c[len(c)-8:]))+1)*4:])
	if b, _ := index.ReadByte(); b != 0 {
		tb.Fatal("no xz index")
	}
	n, _ := binary.ReadUvarint(index)
	off := 12
	for i := 0; i < int(n); i++ {
		unpadded, _ := binary.ReadUvarint(index)
		binary.ReadUvarint(index) // uncompressed size
		if prop, ok := dictProp[i]; ok {
			hs := (int(c[off]) + 1) * 4
			h := c[off : off+hs]
			k := bytes.Index(h, []byte{0x21, 0x01}) // LZMA2, one property byte
			if k < 0 {
				tb.Fatalf("block %d has no LZMA2 filter", i)
			}
			h[k+2] = prop
			le.PutUint32(h[hs-4:], crc32.ChecksumIEEE(h[:hs-4]))
		}
		off += (int(unpadded) + 3) &^ 3
	}
	for i := range dictProp {
		if i >= int(n) {
			tb.Fatalf("xz block %d of %d", i, n)
		}
	}
	return splicedData{c, objCompressedXZ}
}

// xzEmptyBlocks is an xz stream of n blocks that decode to nothing, each
// asking for the dictionary of the LZMA2 property prop, then what another
// stream without check (xzData's) has after its header.
func xzEmptyBlocks(n int, prop byte, then splicedData) splicedData {
	le := binary.LittleEndian
	c := []byte("\xfd7zXZ\x00\x00\x00") // no check
	c = le.AppendUint32(c, crc32.ChecksumIEEE(c[6:8]))
	for range n {
		h := []byte{0x02, 0x00, 0x21, 0x01, prop, 0, 0, 0} // 12 bytes, LZMA2, padding
		h = le.AppendUint32(h, crc32.ChecksumIEEE(h))
		c = append(append(c, h...), 0x00, 0, 0, 0) // the LZMA2 end marker, padding
	}
	return splicedData{append(c, then.payload[12:]...), objCompressedXZ}
}
