// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/journal/journaltest"
)

// The tests write real journal files with Debian's systemd-journal-remote
// (package systemd-journal-remote, installed by .ci/test.sh), through
// package journaltest.

// journalRemote returns the path of systemd-journal-remote; a test needing
// it fails without it.
func journalRemote(t testing.TB) string {
	t.Helper()
	return journaltest.Remote(t)
}

// testEntry is an entry as fed to journal-remote.
type testEntry struct {
	realtime  uint64 // µs
	monotonic uint64 // µs
	boot      string
	fields    []Field
}

const (
	bootA    = "0123456789abcdef0123456789abcdef"
	bootB    = "fedcba9876543210fedcba9876543210"
	baseTime = 1700000000000000 // µs
)

// genEntries makes n entries from number first on, one second apart, on
// two boots: three units, all eight priorities, a PID each; every fifth
// has a long message with newlines (stored compressed when compression is
// on: journald compresses values over 512 bytes), and one a binary value.
func genEntries(first, n int) []testEntry {
	var es []testEntry
	for i := first; i < first+n; i++ {
		boot := bootA
		if i >= 1000 {
			boot = bootB
		}
		msg := fmt.Sprintf("message %d", i)
		if i%5 == 4 {
			msg = strings.Repeat(fmt.Sprintf("a long, compressible line of entry %d\n", i), 60)
		}
		fs := []Field{
			{"_SYSTEMD_UNIT", []byte(fmt.Sprintf("unit%d.service", i%3))},
			{"PRIORITY", []byte(fmt.Sprint(i % 8))},
			{"_PID", []byte(fmt.Sprint(1000 + i))},
			{"MESSAGE", []byte(msg)},
		}
		if i%10 == 7 {
			fs = append(fs, Field{"BINARY", []byte{0, 1, 2, '\n', 0xff, '=', 0}})
		}
		es = append(es, testEntry{
			realtime:  baseTime + uint64(i)*1e6,
			monotonic: 5e6 + uint64(i%1000)*1e6,
			boot:      boot,
			fields:    fs,
		})
	}
	return es
}

// exportFormat writes entries in journald's export format.
func exportFormat(es []testEntry) []byte { return journaltest.Export(toJT(es)) }

// toJT converts test entries to journaltest's.
func toJT(es []testEntry) []journaltest.Entry {
	out := make([]journaltest.Entry, len(es))
	for i, e := range es {
		fs := make([]journaltest.Field, len(e.fields))
		for k, f := range e.fields {
			fs[k] = journaltest.Field{Name: f.Name, Value: f.Value}
		}
		out[i] = journaltest.Entry{Realtime: e.realtime, Monotonic: e.monotonic, Boot: e.boot, Fields: fs}
	}
	return out
}

// layout says how journal-remote writes a file (journaltest.Layout).
type layout struct {
	compact, keyed, compress bool
}

func (l layout) jt() journaltest.Layout {
	return journaltest.Layout{Compact: l.compact, Keyed: l.keyed, Compress: l.compress}
}

// writeJournal appends entries to the journal file at path (making it if
// needed) with systemd-journal-remote.
func writeJournal(t testing.TB, path string, l layout, es []testEntry) {
	t.Helper()
	journaltest.WriteFrom(t, path, l.jt(), bytes.NewReader(exportFormat(es)))
}

func readAll(t testing.TB, r *Reader, fwd bool) []*Entry {
	t.Helper()
	var got []*Entry
	for {
		e, err := r.step(fwd)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("reading entry %d: %v", len(got), err)
		}
		got = append(got, e)
	}
}

// sameEntry reports how got differs from want ("" if not): timestamps,
// boot, and the fields as a set (journald sorts an entry's items by the
// DATA objects' offsets; journal-remote adds _BOOT_ID as a field).
func sameEntry(got *Entry, want testEntry) string {
	if us := uint64(got.Realtime.UnixMicro()); us != want.realtime {
		return fmt.Sprintf("realtime %d, want %d", us, want.realtime)
	}
	if us := uint64(got.Monotonic.Microseconds()); us != want.monotonic {
		return fmt.Sprintf("monotonic %d, want %d", us, want.monotonic)
	}
	if got.BootID.String() != want.boot {
		return fmt.Sprintf("boot %s, want %s", got.BootID, want.boot)
	}
	key := func(f Field) string { return f.Name + "=" + string(f.Value) }
	var g, w []string
	for _, f := range got.Fields {
		g = append(g, key(f))
	}
	w = append(w, "_BOOT_ID="+want.boot)
	for _, f := range want.fields {
		w = append(w, key(f))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		return fmt.Sprintf("fields\n%q\nwant\n%q", g, w)
	}
	return ""
}

// checkEntries checks that got are want, whole: see sameEntry and
// checkXorHash.
func checkEntries(t testing.TB, got []*Entry, want []testEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if d := sameEntry(e, want[i]); d != "" {
			t.Fatalf("entry %d: %s", i, d)
		}
		checkXorHash(t, e)
	}
}

// checkXorHash recomputes the entry's xor_hash (Jenkins lookup3 of every
// payload, in every kind of file): it checks the hash and that every
// field was read whole.
func checkXorHash(t testing.TB, e *Entry) {
	t.Helper()
	var x uint64
	for _, f := range e.Fields {
		x ^= jenkinsHash64(append([]byte(f.Name+"="), f.Value...))
	}
	if x != e.xorHash {
		t.Errorf("entry %d: xor of Jenkins hashes %#x, file says %#x", e.Seqnum, x, e.xorHash)
	}
}

var layouts = []struct {
	name string
	l    layout
}{
	{"compact keyed zstd", layout{compact: true, keyed: true, compress: true}},
	{"regular keyed zstd", layout{compact: false, keyed: true, compress: true}},
	{"compact jenkins zstd", layout{compact: true, keyed: false, compress: true}},
	{"regular jenkins plain", layout{compact: false, keyed: false, compress: false}},
	{"compact keyed plain", layout{compact: true, keyed: true, compress: false}},
}

// TestRealFiles reads files journal-remote wrote in each layout: every
// entry whole and in order both ways, the header's flags, matches, seeks.
func TestRealFiles(t *testing.T) {
	want := genEntries(995, 30) // crosses from boot A to boot B
	for _, tc := range layouts {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.journal")
			writeJournal(t, path, tc.l, want)
			f, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			in := f.Info()
			if in.Compact != tc.l.compact || in.KeyedHash != tc.l.keyed || in.Entries != uint64(len(want)) {
				t.Errorf("Info: compact %v keyed %v entries %d, want %v %v %d", in.Compact, in.KeyedHash, in.Entries, tc.l.compact, tc.l.keyed, len(want))
			}
			if zstd := f.hdr.incompat&incompatZstd != 0; zstd != tc.l.compress {
				t.Errorf("zstd flag %v, want %v: the long messages were not stored as expected", zstd, tc.l.compress)
			}

			r, err := f.Reader()
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r, true)
			checkEntries(t, got, want)
			for i, e := range got {
				if e.Seqnum != uint64(i+1) {
					t.Errorf("entry %d: seqnum %d", i, e.Seqnum)
				}
			}
			r.SeekTail()
			back := readAll(t, r, false)
			slices.Reverse(back)
			if len(back) != len(got) {
				t.Fatalf("read %d entries backward, want %d", len(back), len(got))
			}
			for i := range back {
				if back[i].Seqnum != got[i].Seqnum {
					t.Fatalf("backward entry %d: seqnum %d, want %d", i, back[i].Seqnum, got[i].Seqnum)
				}
			}
			checkQueries(t, f, want)
		})
	}
}

// checkQueries runs matches and seeks on a file holding want, against
// the same filter applied to want.
func checkQueries(t *testing.T, f *File, want []testEntry) {
	t.Helper()
	has := func(e testEntry, name, value string) bool {
		if name == "_BOOT_ID" {
			return e.boot == value
		}
		for _, f := range e.fields {
			if f.Name == name && string(f.Value) == value {
				return true
			}
		}
		return false
	}
	longMsg := string(want[4].fields[3].Value) // stored compressed where compression is on
	queries := []struct {
		name    string
		matches []string
	}{
		{"one unit", []string{"_SYSTEMD_UNIT=unit1.service"}},
		{"unit and priority", []string{"_SYSTEMD_UNIT=unit2.service", "PRIORITY=3"}},
		{"priorities 0 to 2 (OR)", []string{"PRIORITY=0", "PRIORITY=1", "PRIORITY=2"}},
		{"boot", []string{"_BOOT_ID=" + bootB}},
		{"boot and units", []string{"_BOOT_ID=" + bootA, "_SYSTEMD_UNIT=unit0.service", "_SYSTEMD_UNIT=unit2.service"}},
		{"a compressed value", []string{"MESSAGE=" + longMsg}},
		{"a value no entry has", []string{"_SYSTEMD_UNIT=nope.service"}},
		{"a field no entry has", []string{"NOPE=1", "PRIORITY=1"}},
	}
	for _, q := range queries {
		var exp []uint64
		for i, e := range want {
			ok := true
			byName := map[string][]string{}
			for _, m := range q.matches {
				n, v, _ := strings.Cut(m, "=")
				byName[n] = append(byName[n], v)
			}
			for n, vs := range byName {
				ok = ok && slices.ContainsFunc(vs, func(v string) bool { return has(e, n, v) })
			}
			if ok {
				exp = append(exp, uint64(i+1))
			}
		}
		r, err := f.Reader(q.matches...)
		if err != nil {
			t.Fatal(err)
		}
		var fwd, bwd []uint64
		for _, e := range readAll(t, r, true) {
			fwd = append(fwd, e.Seqnum)
		}
		r.SeekTail()
		for _, e := range readAll(t, r, false) {
			bwd = append(bwd, e.Seqnum)
		}
		slices.Reverse(bwd)
		if !slices.Equal(fwd, exp) || !slices.Equal(bwd, exp) {
			t.Errorf("%s: forward %v, backward %v, want %v", q.name, fwd, bwd, exp)
		}
	}

	// Seeking to a time: Next gives the first entry at or after it,
	// Prev the last one before it.
	r, _ := f.Reader()
	for _, tc := range []struct {
		at         time.Time
		next, prev uint64 // seqnums, 0 for io.EOF
	}{
		{usecTime(want[10].realtime), 11, 10},
		{usecTime(want[10].realtime + 1), 12, 11},
		{usecTime(want[0].realtime - 1), 1, 0},
		{usecTime(want[len(want)-1].realtime + 1), 0, uint64(len(want))},
		{time.Time{}, 1, 0},
	} {
		for _, fwd := range []bool{true, false} {
			r.SeekRealtime(tc.at)
			e, err := r.step(fwd)
			wantSeq := tc.next
			if !fwd {
				wantSeq = tc.prev
			}
			var got uint64
			if err == nil {
				got = e.Seqnum
			} else if err != io.EOF {
				t.Fatal(err)
			}
			if got != wantSeq {
				t.Errorf("SeekRealtime(%v) then next=%v: seqnum %d, want %d", tc.at, fwd, got, wantSeq)
			}
		}
	}

	// A window around a time: Next and Prev from one seek, then turning
	// round: the gap model gives each entry once per direction.
	r.SeekRealtime(usecTime(want[10].realtime))
	var seq []uint64
	for range 3 {
		e, err := r.Prev()
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, e.Seqnum)
	}
	for range 4 {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, e.Seqnum)
	}
	if !slices.Equal(seq, []uint64{10, 9, 8, 8, 9, 10, 11}) {
		t.Errorf("Prev×3 then Next×4 around entry 11: %v", seq)
	}
}

// TestAppendWhileReading: journal-remote keeps a file online while it
// writes; a reader at the end sees entries written after it got there,
// from the same run and from a later run appending to the same file.
func TestAppendWhileReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.journal")
	want := genEntries(0, 60)
	w := journaltest.Start(t, path, layout{compact: true, keyed: true}.jt())
	w.Write(t, toJT(want[:20]))
	var f *File
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f == nil {
			f, err = Open(path, nil)
		}
		if f != nil && f.Info().Entries >= 19 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal-remote wrote nothing readable in 10s: %v\n%s", err, w.Stderr())
		}
		if f != nil {
			f.refresh()
		}
	}
	defer f.Close()
	if st := f.Info().State; st != StateOnline {
		t.Errorf("state %v while journal-remote writes, want online", st)
	}
	r, err := f.Reader()
	if err != nil {
		t.Fatal(err)
	}
	// journal-remote holds the last entry until it sees the next one
	// begin, so entries are checked as they come, up to a count.
	var got []*Entry
	readUntil := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(got) < n; {
			e, err := r.Next()
			if err == io.EOF {
				if time.Now().After(deadline) {
					t.Fatalf("have %d entries after 10s, want %d\n%s", len(got), n, w.Stderr())
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("entry %d: %v", len(got), err)
			}
			got = append(got, e)
		}
	}
	readUntil(19)
	w.Write(t, toJT(want[20:40]))
	readUntil(39)
	w.Close(t)
	readUntil(40)
	// A second writer appends to the (now offline) file.
	writeJournal(t, path, layout{compact: true, keyed: true, compress: true}, want[40:])
	readUntil(60)
	if e, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last entry: %v, %v", e, err)
	}
	checkEntries(t, got, want)
	// A reader made now sees them all, matches included.
	r2, _ := f.Reader("_SYSTEMD_UNIT=unit0.service")
	if n := len(readAll(t, r2, true)); n != 20 {
		t.Errorf("unit0 entries after the appends: %d, want 20", n)
	}
}

// TestOpenDir merges an archived file, an online-style file and a file in
// a machine-ID subdirectory, in time order, and shows each entry once
// when two files hold the same one.
func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	all := genEntries(0, 30)
	l := layout{compact: true, keyed: true, compress: true}
	// The later entries in the top directory, the earlier in a
	// subdirectory, interleaved by time across two files.
	sub := filepath.Join(dir, "0123456789abcdef0123456789abcdef")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	var even, odd []testEntry
	for i, e := range all {
		if i%2 == 0 {
			even = append(even, e)
		} else {
			odd = append(odd, e)
		}
	}
	writeJournal(t, filepath.Join(sub, "system.journal"), l, even)
	writeJournal(t, filepath.Join(dir, "user-1000.journal"), l, odd)
	// An archived copy: journald names them *.journal~ after a crash.
	writeJournal(t, filepath.Join(dir, "dup.journal"), l, all[:5])
	if err := os.Rename(filepath.Join(dir, "dup.journal"), filepath.Join(dir, "dup.journal~")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a journal"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.journal"), []byte("not a journal either"), 0o644)

	j, err := OpenDir(nil, dir, filepath.Join(dir, "does-not-exist"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(j.Files()) != 3 {
		t.Errorf("opened %d files, want 3", len(j.Files()))
	}
	if len(j.Skipped) != 1 || !errors.Is(j.Skipped[0], ErrCorrupt) || !strings.Contains(j.Skipped[0].Error(), "broken.journal") {
		t.Errorf("Skipped = %v, want broken.journal as corrupt", j.Skipped)
	}
	r, err := j.Reader()
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r, true)
	// The duplicate file's entries have other sequence numbers (another
	// writer), so they are the same entries only by boot, time and hash.
	checkEntries(t, got, all)
	r.SeekTail()
	back := readAll(t, r, false)
	if len(back) != len(all) || sameEntry(back[0], all[len(all)-1]) != "" {
		t.Fatalf("backward: %d entries", len(back))
	}
	r, _ = j.Reader("_SYSTEMD_UNIT=unit1.service")
	r.SeekRealtime(usecTime(all[20].realtime))
	e, err := r.Next()
	if err != nil || sameEntry(e, all[22]) != "" {
		t.Fatalf("unit1 from entry 20 on: %v %v", e, err)
	}
	e, err = r.Prev()
	if err != nil || sameEntry(e, all[22]) != "" {
		t.Fatalf("turning round: %v %v", e, err)
	}
	e, err = r.Prev()
	if err != nil || sameEntry(e, all[19]) != "" {
		t.Fatalf("unit1 before entry 22: %v %v", e, err)
	}
}
