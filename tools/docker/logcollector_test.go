// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"slices"
	"strings"
	"testing"
)

// TestLogCollectorLines: frames are cut into lines whatever their
// boundaries (a line over many frames, many lines in one, CRLF, an
// unterminated last line), per stream, and a line sent in many frames is
// not searched or copied again with each frame: its unterminated rest is
// kept as it grows, not copied anew.
func TestLogCollectorLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames []struct {
			stream int
			data   string
		}
		want []string // stream:text
	}{
		{"one line a frame", frames(0, "a\n", 0, "b\n"), []string{"stdout:a", "stdout:b"}},
		{"lines across frames", frames(0, "he", 0, "llo\nwor", 0, "ld\n"), []string{"stdout:hello", "stdout:world"}},
		{"many in one, CRLF", frames(1, "x\r\ny\r\nz"), []string{"stderr:x", "stderr:y", "stderr:z"}},
		{"streams kept apart", frames(0, "out-", 1, "err\n", 0, "line\n"), []string{"stderr:err", "stdout:out-line"}},
		{"empty lines", frames(0, "\n\n"), []string{"stdout:", "stdout:"}},
	} {
		c := &logCollector{max: 1 << 20}
		for _, f := range tc.frames {
			streamWriter{c, f.stream}.Write([]byte(f.data))
		}
		c.flush()
		var got []string
		for _, l := range c.lines {
			got = append(got, l.Stream+":"+l.Text)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	frame := []byte(strings.Repeat("x", 16<<10))
	c := &logCollector{max: 64 << 20}
	w := streamWriter{c, 0}
	for range 256 {
		w.Write(frame)
	}
	w.Write([]byte("\n"))
	if len(c.lines) != 1 || len(c.lines[0].Text) != 256*len(frame) {
		t.Fatalf("a 4 MiB line over 256 frames: %d lines", len(c.lines))
	}
	// 64 frames of one line: the kept rest grows by doubling, a few
	// allocations, where copying it anew with each frame made two each.
	allocs := testing.AllocsPerRun(3, func() {
		w := streamWriter{&logCollector{max: 64 << 20}, 0}
		for range 64 {
			w.Write(frame)
		}
	})
	if allocs > 32 {
		t.Errorf("64 frames of one line: %.0f allocations", allocs)
	}
}

// frames builds a test's frames from stream, data pairs.
func frames(pairs ...any) []struct {
	stream int
	data   string
} {
	var out []struct {
		stream int
		data   string
	}
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, struct {
			stream int
			data   string
		}{pairs[i].(int), pairs[i+1].(string)})
	}
	return out
}
