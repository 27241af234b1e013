// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"bytes"
	"fmt"
	"unicode"
)

// Invisible reports whether a person's screen would act on r rather than
// show it, beyond the C0 controls JSON escapes: DEL, the C1 controls
// (U+009B is a CSI on terminals that take UTF-8 C1) and the format
// characters (Unicode Cf): the bidirectional overrides and isolates,
// which reorder what an approver or a confirming user reads, and the
// zero-width ones, which hide where one word ends.
func Invisible(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r)
}

// EscapeInvisible writes the runes Invisible reports in encoded JSON j as
// \uXXXX escapes (surrogate pairs above U+FFFF), which decode to the same
// JSON: outside strings JSON holds none of them.
func EscapeInvisible(j []byte) []byte {
	if !bytes.ContainsFunc(j, Invisible) {
		return j
	}
	var b bytes.Buffer
	for _, r := range string(j) {
		switch {
		case !Invisible(r):
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, "\\u%04x\\u%04x", 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.Bytes()
}
