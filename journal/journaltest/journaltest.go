// SPDX-License-Identifier: Apache-2.0

// Package journaltest writes real journal files for tests, with Debian's
// systemd-journal-remote (package systemd-journal-remote), which takes
// journald's export format and writes a journal file with journald's own
// code: a reader tested only against files it wrote itself proves
// nothing.
package journaltest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Remote returns the path of systemd-journal-remote; a test needing it
// fails without it.
func Remote(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("systemd-journal-remote"); err == nil {
		return p
	}
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("systemd-journal-remote is missing: apt-get install systemd-journal-remote (.ci/test.sh does)")
	return ""
}

// Field is one FIELD=value pair of an Entry.
type Field struct {
	Name  string
	Value []byte
}

// Entry is an entry as fed to journal-remote: its timestamps in µs, its
// boot ID (32 hex digits) and its fields.
type Entry struct {
	Realtime  uint64
	Monotonic uint64
	Boot      string
	Fields    []Field
}

// WriteExport writes e in journald's export format: FIELD=value lines,
// values with a newline or a NUL in the binary form, a blank line after.
func WriteExport(w io.Writer, e Entry) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriter(w)
	}
	fmt.Fprintf(bw, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n", e.Realtime, e.Monotonic, e.Boot)
	for _, f := range e.Fields {
		if bytes.IndexByte(f.Value, '\n') < 0 && bytes.IndexByte(f.Value, 0) < 0 {
			fmt.Fprintf(bw, "%s=%s\n", f.Name, f.Value)
			continue
		}
		bw.WriteString(f.Name + "\n")
		binary.Write(bw, binary.LittleEndian, uint64(len(f.Value)))
		bw.Write(f.Value)
		bw.WriteString("\n")
	}
	bw.WriteString("\n")
	if !ok {
		return bw.Flush()
	}
	return nil
}

// Export is the entries in journald's export format.
func Export(es []Entry) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	for _, e := range es {
		WriteExport(w, e)
	}
	w.Flush()
	return b.Bytes()
}

// Layout says how journal-remote writes a file: compact (32-bit offsets),
// keyed hash tables (siphash24 rather than Jenkins), compressed values
// (zstd, for values over 512 bytes).
type Layout struct {
	Compact, Keyed, Compress bool
}

// Env is the environment that makes journal-remote write the layout.
func (l Layout) Env() []string {
	return append(os.Environ(),
		fmt.Sprintf("SYSTEMD_JOURNAL_COMPACT=%d", b2i(l.Compact)),
		fmt.Sprintf("SYSTEMD_JOURNAL_KEYED_HASH=%d", b2i(l.Keyed)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Write appends the entries to the journal file at path (making it if
// needed) with systemd-journal-remote.
func Write(t testing.TB, path string, l Layout, es []Entry) {
	t.Helper()
	WriteFrom(t, path, l, bytes.NewReader(Export(es)))
}

// WriteFrom is Write reading the export format from r, so that a large
// journal is written without holding it in memory.
func WriteFrom(t testing.TB, path string, l Layout, r io.Reader) {
	t.Helper()
	cmd := exec.Command(Remote(t), "--output="+path, fmt.Sprintf("--compress=%v", l.Compress), "-")
	cmd.Env = l.Env()
	cmd.Stdin = r
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}

// Writer is a systemd-journal-remote run that keeps writing one file
// (online) while the test feeds it entries, started by Start.
type Writer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

// Start starts journal-remote appending what Write gives it to the file
// at path; it is killed when the test ends unless Close ended it first.
// journal-remote holds back the last entry it read until the next one
// begins (or its input ends).
func Start(t testing.TB, path string, l Layout) *Writer {
	t.Helper()
	w := &Writer{cmd: exec.Command(Remote(t), "--output="+path, fmt.Sprintf("--compress=%v", l.Compress), "-")}
	w.cmd.Env = l.Env()
	w.cmd.Stderr = &w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})
	return w
}

// Write sends entries to journal-remote.
func (w *Writer) Write(t testing.TB, es []Entry) {
	t.Helper()
	if _, err := w.stdin.Write(Export(es)); err != nil {
		t.Fatalf("writing to systemd-journal-remote: %v\n%s", err, w.stderr.String())
	}
}

// Close ends journal-remote's input and waits for it to finish the file.
func (w *Writer) Close(t testing.TB) {
	t.Helper()
	w.stdin.Close()
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, w.stderr.String())
	}
}

// Stderr is what journal-remote has written to its standard error.
func (w *Writer) Stderr() string { return w.stderr.String() }

// Copy writes a copy of the closed journal file src at dst with every
// entry logged shift later (wall clock and monotonic) and the sequence
// number ID seqnumID, cut after its last object and sparse: hundreds of
// distinct files for a test, where a journal-remote run for each would
// cost a tenth of a second and 8 MiB of disk apiece. Only the entries'
// fixed parts and the header change; the data objects, hash tables and
// entry arrays are journald's.
func Copy(t testing.TB, src, dst string, shift time.Duration, seqnumID [16]byte) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(b) < 208 || string(b[:8]) != "LPKSHHRH" {
		t.Fatalf("%s: not a journal file", src)
	}
	headerSize, tail := le.Uint64(b[88:]), le.Uint64(b[136:]) // header_size, tail_object_offset
	if tail < headerSize || tail+16 > uint64(len(b)) || le.Uint64(b[tail+8:]) > uint64(len(b))-tail {
		t.Fatalf("%s: tail object out of the file", src)
	}
	end := (tail + le.Uint64(b[tail+8:]) + 7) &^ 7
	b = b[:end]
	le.PutUint64(b[96:], end-headerSize) // arena_size
	us := uint64(shift.Microseconds())
	add := func(off uint64) { le.PutUint64(b[off:], le.Uint64(b[off:])+us) }
	for off := headerSize; off+16 <= end; {
		size := le.Uint64(b[off+8:])
		if size < 16 || size > end-off {
			break
		}
		if b[off] == 3 { // ENTRY: realtime at 24, monotonic at 32
			add(off + 24)
			add(off + 32)
		}
		off += (size + 7) &^ 7
	}
	copy(b[72:88], seqnumID[:])
	add(184) // head_entry_realtime
	add(192) // tail_entry_realtime
	add(200) // tail_entry_monotonic
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	// Only the blocks that are not all zero: the hash tables are mostly
	// empty.
	for off := 0; off < len(b); off += 4096 {
		blk := b[off:min(off+4096, len(b))]
		if bytes.Count(blk, []byte{0}) == len(blk) {
			continue
		}
		if _, err := f.WriteAt(blk, int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
