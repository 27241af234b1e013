// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// landmarks are offsets in a real file that the corruptions aim at.
type landmarks struct {
	tailEnd     uint64 // end of the last object
	firstArray  uint64 // the first ENTRY_ARRAY of the global chain
	firstEntry  uint64
	firstData   uint64 // the DATA object of the first entry's first item
	compressed  uint64 // a zstd-compressed DATA object
	compactFile bool
}

func findLandmarks(t *testing.T, path string, es []testEntry) landmarks {
	t.Helper()
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lm := landmarks{firstArray: f.hdr.entryArrayOff, compactFile: f.compact()}
	b, _ := f.readAt(136, 8) // tail_object_offset
	tail := binary.LittleEndian.Uint64(b)
	o, err := f.object(tail, mustType(t, f, tail), objHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	lm.tailEnd = tail + o.size
	all, err := f.newList(0, f.hdr.entryArrayOff, f.hdr.nEntries)
	if err != nil {
		t.Fatal(err)
	}
	if lm.firstEntry, err = all.at(0); err != nil {
		t.Fatal(err)
	}
	b, _ = f.readAt(lm.firstEntry+entryFixedSize, 4)
	lm.firstData = uint64(binary.LittleEndian.Uint32(b))
	d, ok, err := f.findData(append([]byte("MESSAGE="), es[4].fields[3].Value...))
	if err != nil || !ok || d.flags != objCompressedZstd {
		t.Fatalf("no zstd DATA object for a long message: %v %v %#x", ok, err, d.flags)
	}
	lm.compressed = d.off
	return lm
}

func mustType(t *testing.T, f *File, off uint64) uint8 {
	b, err := f.readAt(off, 1)
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}

// TestCorruptFiles breaks a real file in the ways a crash, a disk or an
// attacker would, and reads it every way: a clear error naming the file
// and the place, never a panic, and memory bounded by the Options whatever
// sizes the file claims.
func TestCorruptFiles(t *testing.T) {
	es := genEntries(0, 40)
	orig := filepath.Join(t.TempDir(), "orig.journal")
	writeJournal(t, orig, layout{compact: true, keyed: true, compress: true}, es)
	good, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	lm := findLandmarks(t, orig, es)
	if !lm.compactFile {
		t.Fatal("the file is not compact")
	}
	le := binary.LittleEndian
	put64 := func(off, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint64(b[off:], v); return b }
	}
	put32 := func(off uint64, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[off:], v); return b }
	}
	cut := func(n uint64) func([]byte) []byte {
		return func(b []byte) []byte { return b[:n] }
	}
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr string // in the error from Open or from reading; "" if reading may succeed
		onOpen  bool   // the error comes from Open
		kind    error
	}{
		{"empty", cut(0), "shorter than a journal header", true, ErrCorrupt},
		{"cut inside the header", cut(100), "shorter than a journal header", true, ErrCorrupt},
		{"not a journal", func(b []byte) []byte { copy(b, "NOTAJRNL"); return b }, "no journal signature", true, ErrCorrupt},
		{"unknown incompatible flag", put32(hdrIncompatFlags, 1<<20|incompatCompact), "unknown incompatible flags 0x100000", true, ErrUnsupported},
		{"absurd header size", put64(hdrHeaderSize, 1<<60), "header size 1152921504606846976 out of range", true, ErrCorrupt},
		{"data hash table outside the file", put64(hdrDataHashOff, 1<<50), "data hash table at 0x4000000000000", true, ErrCorrupt},
		{"absurd data hash table size", put64(hdrDataHashSize, 1<<62), "not inside the file", true, ErrCorrupt},
		{"cut after the last object", cut(lm.tailEnd), "", false, nil},
		{"cut inside the hash table", cut(lm.firstArray / 2), "data hash table at", true, ErrCorrupt},
		{"cut among the entries", cut((lm.firstEntry + lm.tailEnd) / 2), "past the end of the file", false, ErrCorrupt},
		{"cut inside the first entry", cut(lm.firstEntry + 20), "past the end of the file", false, ErrCorrupt},
		{"absurd entry count", put64(hdrNEntries, 1<<62), "", false, nil},
		{"entry array pointing outside", put64(hdrEntryArrayOff, 1<<40), "entry array object offset past the end", false, ErrCorrupt},
		{"misaligned entry array item", put32(lm.firstArray+entryArrayFixedSize, uint32(lm.firstEntry+3)), "not a valid object offset", false, ErrCorrupt},
		{"empty entry array item", put32(lm.firstArray+entryArrayFixedSize, 0), "entry array item 0 is empty", false, ErrCorrupt},
		{"entry array chain looping", put64(lm.firstArray+objHeaderSize, lm.firstArray), "entry array chain points backwards", false, ErrCorrupt},
		{"absurd entry array size", put64(lm.firstArray+8, 1<<62), "entry array object of 4611686018427387904 bytes runs past the end", false, ErrCorrupt},
		{"absurd entry size", put64(lm.firstEntry+8, 1<<62), "entry object of 4611686018427387904 bytes runs past the end", false, ErrCorrupt},
		{"entry too small", put64(lm.firstEntry+8, 20), "smaller than its fixed part", false, ErrCorrupt},
		{"item pointing at an entry", put32(lm.firstEntry+entryFixedSize, uint32(lm.firstEntry)), "data object expected, found entry", false, ErrCorrupt},
		{"absurd data size", put64(lm.firstData+8, 1<<62), "data object of 4611686018427387904 bytes runs past the end", false, ErrCorrupt},
		{"unknown object type", func(b []byte) []byte { b[lm.firstData] = 99; return b }, "found unknown (99)", false, ErrCorrupt},
		{"two compressions", func(b []byte) []byte { b[lm.compressed+1] = objCompressedZstd | objCompressedXZ; return b }, "more than one compression", false, ErrCorrupt},
		{"zstd garbage", func(b []byte) []byte {
			for i := lm.compressed + dataFixedSize + dataCompactExtra; i < lm.compressed+dataFixedSize+dataCompactExtra+16; i++ {
				b[i] = 0xaa
			}
			return b
		}, "zstd data", false, ErrCorrupt},
		{"zstd flag not in the header", put32(hdrIncompatFlags, incompatCompact|incompatKeyedHash), "without the zstd flag", false, ErrCorrupt},
		{"absurd compressed size", put64(lm.compressed+8, uint64(len(good))-lm.compressed), "", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.journal")
			if err := os.WriteFile(path, tc.mutate(append([]byte(nil), good...)), 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			errs, opened := exercise(path)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("reading allocated %d MiB", alloc>>20)
			}
			if opened == tc.onOpen && tc.wantErr != "" {
				t.Errorf("opened=%v, want the error on Open: %v", opened, tc.onOpen)
			}
			found := tc.wantErr == ""
			for _, err := range errs {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Path != path || !errors.Is(err, tc.kind) {
					t.Errorf("error %q (%T) is not a %v FormatError naming the file", err, err, tc.kind)
				}
				if tc.wantErr != "" && strings.Contains(err.Error(), tc.wantErr) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error says %q; got %q", tc.wantErr, errs)
			}
		})
	}
}

// exercise opens the file and reads it every way a tool would; it returns
// the errors, and whether Open succeeded.
func exercise(path string) ([]error, bool) {
	f, err := Open(path, &Options{MaxFieldSize: 1 << 10, MaxEntrySize: 4 << 10})
	if err != nil {
		return []error{err}, false
	}
	defer f.Close()
	return exerciseFile(f), true
}

func exerciseFile(f *File) []error {
	var errs []error
	walk := func(r *Reader, fwd bool) {
		for i := 0; i < 100; i++ {
			_, err := r.step(fwd)
			if err == io.EOF {
				return
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, m := range [][]string{nil, {"_SYSTEMD_UNIT=unit1.service"}, {"PRIORITY=3", "PRIORITY=4", "_PID=1004"}} {
		r, err := f.Reader(m...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		walk(r, true)
		r.SeekTail()
		walk(r, false)
		r.SeekRealtime(time.UnixMicro(baseTime + 20e6))
		walk(r, true)
		r.SeekRealtime(time.UnixMicro(baseTime + 20e6))
		walk(r, false)
	}
	if _, _, err := f.Values("_SYSTEMD_UNIT", 100); err != nil {
		errs = append(errs, err)
	}
	if err := f.boots(map[ID]*Boot{}); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// TestGoesOnAfterABadEntry: one broken entry (its header, or a DATA
// object only it uses) is one error, in both directions, and every other
// entry is still read.
func TestGoesOnAfterABadEntry(t *testing.T) {
	es := genEntries(0, 20)
	path := filepath.Join(t.TempDir(), "one-bad.journal")
	writeJournal(t, path, layout{compact: true, keyed: true, compress: true}, es)
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.newList(0, f.hdr.entryArrayOff, f.hdr.nEntries)
	if err != nil {
		t.Fatal(err)
	}
	entry5, _ := all.at(5)
	d, ok, err := f.findData(append([]byte("MESSAGE="), es[9].fields[3].Value...))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	f.Close()
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		off  uint64 // the byte set to 99 (an unknown object type)
		bad  int    // the entry that cannot be read
	}{
		{"entry header", entry5, 5},
		{"data object", d.off, 9},
	} {
		b := append([]byte(nil), good...)
		b[tc.off] = 99
		os.WriteFile(path, b, 0o644)
		f, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := f.Reader()
		for _, fwd := range []bool{true, false} {
			var seqs []uint64
			var errs []error
			for {
				e, err := r.step(fwd)
				if err == io.EOF {
					break
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				seqs = append(seqs, e.Seqnum)
			}
			if len(errs) != 1 || !errors.Is(errs[0], ErrCorrupt) || len(seqs) != len(es)-1 || slices.Contains(seqs, uint64(tc.bad+1)) {
				t.Errorf("%s, forward=%v: errors %v, entries %v", tc.name, fwd, errs, seqs)
			}
		}
		f.Close()
	}
}

// TestNotARegularFile: a FIFO or a directory where a journal was expected
// is refused at once (opening a FIFO would otherwise wait for a writer).
func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.journal")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir} {
		done := make(chan error, 1)
		go func() {
			_, err := Open(p, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Open(%s) = %v", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) still waiting after 5s", p)
		}
	}
}
