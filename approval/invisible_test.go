// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tailops/tailops/approval"
)

// TestEscapeInvisible: the runes a screen acts on rather than shows come
// out of encoded JSON as escapes, above U+FFFF as surrogate pairs, and the
// JSON decodes to the same value; other text is left as it was.
func TestEscapeInvisible(t *testing.T) {
	for _, s := range []string{"plain ünïcode 😀", "a\u202eb\u202c", "zero\u200bwidth\u2060", "tag\U000E0041", "bom\ufeff", "c1\u009b2J", "del\x7f"} {
		j, err := json.Marshal(map[string]string{"k": s})
		if err != nil {
			t.Fatal(err)
		}
		esc := approval.EscapeInvisible(j)
		if strings.ContainsFunc(string(esc), approval.Invisible) {
			t.Errorf("%q: escaped JSON %s still holds an invisible rune", s, esc)
		}
		var back map[string]string
		if err := json.Unmarshal(esc, &back); err != nil || back["k"] != s {
			t.Errorf("%q: escaped JSON %s decodes to %q (%v)", s, esc, back["k"], err)
		}
		if !strings.ContainsFunc(s, approval.Invisible) && string(esc) != string(j) {
			t.Errorf("%q: changed without an invisible rune: %s", s, esc)
		}
	}
}
