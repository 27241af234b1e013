// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tailops/tailops/audit"
)

// TestRecent: Recent returns the newest records oldest first, across
// rotated files, bounded by count and bytes, and leaves out a torn last
// line.
func TestRecent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{MaxSize: 1024}) // about 4 records a file
	writeN(t, l, 30)
	seqs := func(lines [][]byte) []int {
		var out []int
		for _, b := range lines {
			var r struct{ Seq int }
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			out = append(out, r.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		n        int
		maxBytes int64
		want     []int
	}{
		{"one", 1, 1 << 20, []int{30}},
		{"across rotated files", 12, 1 << 20, []int{19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}},
		{"more than the log holds", 100, 1 << 20, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}},
		{"byte bound: the active file only", 100, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := audit.Recent(path, tc.n, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			s := seqs(got)
			if tc.want == nil {
				// One chunk of the active file: its records, none older.
				files, _ := audit.Files(path)
				if want := len(readLines(t, files[len(files)-1])); len(s) != want || s[len(s)-1] != 30 {
					t.Errorf("seqs %v, want the active file's %d records", s, want)
				}
				return
			}
			if !slices.Equal(s, tc.want) {
				t.Errorf("seqs %v, want %v", s, tc.want)
			}
		})
	}
	// A torn last line (a write cut short) is not a record.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":31,"time":"2026-`)
	f.Close()
	got, err := audit.Recent(path, 2, 1<<20)
	if err != nil || !slices.Equal(seqs(got), []int{29, 30}) {
		t.Errorf("with a torn line: %v, %v", seqs(got), err)
	}
}
