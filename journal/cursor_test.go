// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCursor: cursors are journalctl's own (the same text journalctl
// prints for the same file), and seeking to one, in one file or among
// files another writer wrote, lands before its entry.
func TestCursor(t *testing.T) {
	es := genEntries(0, 12)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.journal"), filepath.Join(dir, "b.journal")
	l := layout{compact: true, keyed: true, compress: true}
	writeJournal(t, a, l, es[:8])
	writeJournal(t, b, l, es[8:])

	out, err := exec.Command("journalctl", "--file="+a, "-o", "export").Output()
	if err != nil {
		t.Fatalf("journalctl (systemd, which systemd-journal-remote depends on): %v", err)
	}
	var want []string
	for _, line := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(line, "__CURSOR="); ok {
			want = append(want, c)
		}
	}
	f, err := Open(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _ := f.Reader()
	got := readAll(t, r, true)
	if len(got) != len(want) {
		t.Fatalf("%d entries, journalctl has %d", len(got), len(want))
	}
	for i, e := range got {
		if e.Cursor() != want[i] {
			t.Errorf("entry %d: cursor %s, journalctl says %s", i, e.Cursor(), want[i])
		}
	}

	j, err := OpenDir(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	all := readAll(t, mustReader(t, j), true)
	jr := mustReader(t, j, "_SYSTEMD_UNIT=unit1.service")
	for i, e := range all {
		r := mustReader(t, j)
		if err := r.SeekCursor(e.Cursor()); err != nil {
			t.Fatal(err)
		}
		if n, err := r.Next(); err != nil || n.Cursor() != e.Cursor() {
			t.Fatalf("SeekCursor(entry %d) then Next: %v %v", i, n, err)
		}
		r.SeekCursor(e.Cursor())
		if p, err := r.Prev(); i > 0 && (err != nil || p.Cursor() != all[i-1].Cursor()) {
			t.Fatalf("SeekCursor(entry %d) then Prev: %v %v", i, p, err)
		}
		// With a match, the next matching entry at or after it.
		jr.SeekCursor(e.Cursor())
		n, err := jr.Next()
		if wantIdx := i + (3+1-i%3)%3; wantIdx < len(all) {
			if err != nil || n.Cursor() != all[wantIdx].Cursor() {
				t.Errorf("unit1 from entry %d: %v, want entry %d", i, err, wantIdx)
			}
		}
	}
	for _, bad := range []string{"", "s=1;i=2", "s=zz;i=1;t=1", "nonsense"} {
		if err := jr.SeekCursor(bad); err == nil {
			t.Errorf("SeekCursor(%q) accepted", bad)
		}
	}
}

func mustReader(t *testing.T, j *Journal, matches ...string) *Reader {
	t.Helper()
	r, err := j.Reader(matches...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
