// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestLZ4AndXZ: Debian 12's systemd (252) compresses with zstd only (it
// has no SYSTEMD_JOURNAL_COMPRESS), so no tool here writes an lz4 or xz
// journal. The test takes a real uncompressed file, compresses the long
// messages' DATA objects in place as journald does for those algorithms
// (lz4: the size as 64-bit little-endian, then one lz4 block; xz: an xz
// stream without check), shrinks the objects, sets the flags, and reads
// the file back whole.
func TestLZ4AndXZ(t *testing.T) {
	want := genEntries(0, 20)
	for _, compact := range []bool{true, false} {
		for _, algo := range []string{"lz4", "xz"} {
			t.Run(fmt.Sprintf("%s compact=%v", algo, compact), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "test.journal")
				writeJournal(t, path, layout{compact: compact, keyed: true}, want)
				spliced := recompress(t, path, algo, want)
				f, err := Open(path, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				r, _ := f.Reader()
				got := readAll(t, r, true)
				checkEntries(t, got, want)
				// Matching compares with the decompressed payload.
				for _, p := range spliced {
					r, _ := f.Reader(string(p))
					if n := len(readAll(t, r, true)); n != 1 {
						t.Errorf("match on a %s value: %d entries, want 1", algo, n)
					}
				}
				// A value cut short decompresses only as far as needed.
				f.opts.MaxFieldSize = 100
				r, _ = f.Reader()
				got = readAll(t, r, true)
				if m := got[4].String("MESSAGE"); !got[4].Truncated || m != string(want[4].fields[3].Value[:100]) {
					t.Errorf("cut at 100 bytes: truncated=%v, %q", got[4].Truncated, m)
				}
			})
		}
	}
}

// recompress compresses, in the file at path, the DATA objects of the
// long messages with algo, and returns their payloads.
func recompress(t *testing.T, path, algo string, es []testEntry) [][]byte {
	t.Helper()
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var done [][]byte
	le := binary.LittleEndian
	for _, e := range es {
		msg := e.fields[3]
		if len(msg.Value) < 512 {
			continue
		}
		p := append([]byte("MESSAGE="), msg.Value...)
		d, ok, err := f.findData(p)
		if err != nil || !ok {
			t.Fatalf("finding the DATA object of a long message: %v %v", ok, err)
		}
		var o splicedData
		var incompat uint32
		switch algo {
		case "lz4":
			o, incompat = lz4Data(t, p), incompatLZ4
		case "xz":
			o, incompat = xzData(t, p, 0, nil), incompatXZ
		}
		c, flag := o.payload, o.flag
		if uint64(len(c)) > d.size-(d.payloadOffset-d.off) {
			t.Fatalf("%s made %d bytes of %d", algo, len(c), len(p))
		}
		b[d.off+1] = flag
		le.PutUint64(b[d.off+8:], d.payloadOffset-d.off+uint64(len(c)))
		copy(b[d.payloadOffset:], c)
		le.PutUint32(b[hdrIncompatFlags:], le.Uint32(b[hdrIncompatFlags:])|incompat)
		done = append(done, p)
	}
	f.Close()
	if len(done) == 0 {
		t.Fatal("no long message to compress")
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return done
}

// TestXZAsJournaldWritesIt: journald compresses a field with liblzma's
// buffer encoder (testdata/make-xz.sh), whose block header gives the
// block's sizes: such a field reads whole and cut.
func TestXZAsJournaldWritesIt(t *testing.T) {
	c, err := os.ReadFile("testdata/journald.xz")
	if err != nil {
		t.Fatal(err)
	}
	if c[13]&0xc0 != 0xc0 {
		t.Fatalf("block flags %#x: no sizes", c[13])
	}
	want := string(bytes.Repeat([]byte("journald compresses fields of 512 bytes and more; "), 20))
	b := appendEntry(t, smallJournal(t), []splicedData{{c, objCompressedXZ}}, []int{0})
	for _, max := range []int{100, len(want) - 1, len(want), 0} {
		e, _ := lastEntry(t, b, &Options{MaxFieldSize: max})
		w := want
		if max > 0 && max < len(w) {
			w = w[:max]
		}
		if m := e.String("MESSAGE"); m != w || e.Truncated != (len(w) < len(want)) {
			t.Errorf("MaxFieldSize %d: MESSAGE %d bytes, truncated=%v; want %d bytes", max, len(m), e.Truncated, len(w))
		}
	}
}

// TestXZDictionaryOverLimitIsNotAllocated: the xz package's reader
// allocates the dictionary a block header asks for, whatever it is told
// (up to 4 GiB). A block asking for more than maxXZDict leaves its field
// out, unread and Truncated, as an lz4 field over maxLZ4Size is, without
// the allocation; so does a later block of the stream, if the value goes
// on that far, and so do blocks asking for more than maxXZDictTotal
// together (each block gets a dictionary of its own, and 16 bytes make
// one). 8 MiB (xz's default preset) still reads.
func TestXZDictionaryOverLimitIsNotAllocated(t *testing.T) {
	base := smallJournal(t)
	msg := append([]byte("MESSAGE="), bytes.Repeat([]byte("a long, compressible line "), 400)...)
	const mib8, mib12, gib4 = 22, 23, 40 // LZMA2 dictionary size properties
	for _, tc := range []struct {
		name     string
		data     splicedData
		maxField int
		message  bool // MESSAGE is read, cut at maxField
	}{
		{"one block of 4 GiB", xzData(t, msg, 0, map[int]byte{0: gib4}), 16 << 10, false},
		{"one block of 12 MiB", xzData(t, msg, 0, map[int]byte{0: mib12}), 16 << 10, false},
		{"one block of 8 MiB", xzData(t, msg, 0, map[int]byte{0: mib8}), 16 << 10, true},
		{"second block of 4 GiB", xzData(t, msg, 4096, map[int]byte{1: gib4}), 16 << 10, false},
		{"second block of 4 GiB, not reached", xzData(t, msg, 4096, map[int]byte{1: gib4}), 1000, true},
		{"64 empty blocks of 8 MiB, then the value", xzEmptyBlocks(64, mib8, xzData(t, msg, 0, nil)), 16 << 10, false},
		{"3 empty blocks of 8 MiB, then the value", xzEmptyBlocks(3, mib8, xzData(t, msg, 0, nil)), 16 << 10, true},
	} {
		b := appendEntry(t, base, []splicedData{tc.data, {[]byte("PRIORITY=6"), 0}}, []int{0, 1})
		e, a := lastEntry(t, b, &Options{MaxFieldSize: tc.maxField, MaxEntrySize: 64 << 10})
		if a > 64<<20 {
			t.Errorf("%s: reading the entry allocated %d MiB", tc.name, a>>20)
		}
		want, value := "", msg[len("MESSAGE="):]
		if tc.message {
			want = string(value[:min(tc.maxField, len(value))])
		}
		if m := e.String("MESSAGE"); m != want || e.Truncated != (len(want) < len(value)) || e.String("PRIORITY") != "6" {
			t.Errorf("%s: MESSAGE %d bytes (want %d), truncated=%v, PRIORITY %q", tc.name, len(m), len(want), e.Truncated, e.String("PRIORITY"))
		}
	}
}
