// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bytes"
	"testing"
)

// tailReference is tailScan's contract computed over the whole file at
// once: of the last most bytes, the last lines lines (a final newline
// does not count), or, when they hold fewer and do not reach the start
// of the file, all but their cut first line (when a whole line follows).
// It returns the wanted bytes and whether the cap stopped it.
func tailReference(file []byte, lines int, most int64) ([]byte, bool) {
	window := file[max(0, int64(len(file))-most):]
	seen := 0
	for i := len(window) - 1; i >= 0; i-- {
		if window[i] != '\n' || i == len(window)-1 {
			continue
		}
		if seen++; seen == lines {
			return window[i+1:], false
		}
	}
	if len(window) == len(file) {
		return window, false
	}
	if i := bytes.IndexByte(window, '\n'); i >= 0 && i < len(window)-1 {
		return window[i+1:], true
	}
	return window, true
}

// tailOf runs tailScan over file with the given chunk sizes: the wanted
// bytes, whether the cap stopped it, and the bytes it read.
func tailOf(t testing.TB, file []byte, lines int, first, chunk, most int64) ([]byte, bool, int) {
	r := bytes.NewReader(file)
	data, start, capped, err := tailScan(r.ReadAt, int64(len(file)), lines, first, chunk, most)
	if err != nil {
		t.Fatalf("tailScan: %v", err)
	}
	if !bytes.HasSuffix(file, data) {
		t.Fatalf("tailScan returned %q, not the file's end", data)
	}
	return data[start:], capped, len(data)
}

func TestTailScan(t *testing.T) {
	log := bytes.Repeat([]byte("a line of a log\n"), 100) // 1600 bytes, 16 a line
	for _, tc := range []struct {
		name              string
		file              string
		lines             int
		first, chunk, max int64
		want              string
		capped            bool
		maxRead           int
	}{
		{"one chunk", string(log), 2, 64, 256, 1 << 20, "a line of a log\na line of a log\n", false, 64},
		{"chunks growing", string(log), 20, 16, 64, 1 << 20, string(log[len(log)-320:]), false, 16 + 32 + 64 + 64 + 64 + 64 + 64},
		{"the whole file", "a\nb\nc", 10, 2, 4, 100, "a\nb\nc", false, 5},
		{"no final newline", "a\nb\nc", 2, 2, 4, 100, "b\nc", false, 5},
		{"capped, the cut line dropped", "xxxxxxxx\nshort 1\nshort 2\n", 10, 4, 8, 20, "short 1\nshort 2\n", true, 20},
		{"capped, one line", "yyyyyyyyyyyy", 1, 4, 8, 8, "yyyyyyyy", true, 8},
		{"empty", "", 5, 4, 8, 100, "", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, capped, read := tailOf(t, []byte(tc.file), tc.lines, tc.first, tc.chunk, tc.max)
			if string(got) != tc.want || capped != tc.capped || read > tc.maxRead {
				t.Errorf("got %q (capped %v, %d bytes read), want %q (capped %v, at most %d read)", got, capped, read, tc.want, tc.capped, tc.maxRead)
			}
		})
	}
}

// FuzzTailScan holds tailScan, whatever its chunk sizes, to
// tailReference, which reads the whole file at once.
func FuzzTailScan(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), 2, 1, 2, 100)
	f.Add([]byte("xxxxxxxx\nshort 1\nshort 2\n"), 10, 4, 8, 20)
	f.Add(bytes.Repeat([]byte("line\n"), 50), 7, 3, 5, 64)
	f.Fuzz(func(t *testing.T, file []byte, lines, first, chunk, most int) {
		if lines < 1 || lines > 1000 || first < 1 || chunk < first || chunk > 4096 || most < 1 || most > 1<<16 {
			return
		}
		got, capped, read := tailOf(t, file, lines, int64(first), int64(chunk), int64(most))
		want, wantCapped := tailReference(file, lines, int64(most))
		if !bytes.Equal(got, want) || capped != wantCapped {
			t.Fatalf("tail -n %d (first %d, chunk %d, max %d) of %q: %q capped %v, want %q capped %v", lines, first, chunk, most, file, got, capped, want, wantCapped)
		}
		if read > most {
			t.Fatalf("read %d bytes, more than %d", read, most)
		}
	})
}
