// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
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
		var c []byte
		var flag uint8
		var incompat uint32
		switch algo {
		case "lz4":
			c = make([]byte, 8+lz4.CompressBlockBound(len(p)))
			le.PutUint64(c, uint64(len(p)))
			n, err := lz4.CompressBlock(p, c[8:], nil)
			if err != nil || n == 0 {
				t.Fatalf("lz4: %d, %v", n, err)
			}
			c, flag, incompat = c[:8+n], objCompressedLZ4, incompatLZ4
		case "xz":
			var buf bytes.Buffer
			w, err := xz.WriterConfig{DictCap: 64 << 10, NoCheckSum: true}.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(p)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			c, flag, incompat = buf.Bytes(), objCompressedXZ, incompatXZ
		}
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
