// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"strings"
	"testing"
)

// TestLineOf: the line holding a match, without its end; on a line longer
// than maxLineSide on either side of the match, only that much of it, so
// that a file of one long line costs no scan of it per match.
func TestLineOf(t *testing.T) {
	long := strings.Repeat("a", 3*maxLineSide) + "KEY" + strings.Repeat("b", 3*maxLineSide)
	for _, tc := range []struct {
		name, text string
		at         int
		want       string
	}{
		{"first line", "key=1\nother", 0, "key=1"},
		{"middle line", "a\nkey=2\nc", 2, "key=2"},
		{"last line, no end", "a\nkey=3", 4, "key=3"},
		{"empty line", "a\n\nb", 2, ""},
		{"long line", long, 3 * maxLineSide, strings.Repeat("a", maxLineSide) + "KEY" + strings.Repeat("b", maxLineSide-3)},
		{"long line's start", "x\n" + long, 2, strings.Repeat("a", maxLineSide)},
	} {
		if got := lineOf(tc.text, tc.at); got != tc.want {
			t.Errorf("%s: %d bytes %.20q…, want %d bytes %.20q…", tc.name, len(got), got, len(tc.want), tc.want)
		}
	}
}
