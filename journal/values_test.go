// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestValuesAndBoots: the distinct values of a field (journalctl -F) and
// the boots with their spans (journalctl --list-boots), across two files
// that split a boot between them.
func TestValuesAndBoots(t *testing.T) {
	es := genEntries(995, 30) // 995-999 on boot A, 1000-1024 on boot B
	dir := t.TempDir()
	// Files of every layout gather in one directory: later rounds merge
	// layouts too.
	for _, l := range layouts {
		writeJournal(t, filepath.Join(dir, strings.ReplaceAll(l.name, " ", "-")+"-1.journal"), l.l, es[:15])
		writeJournal(t, filepath.Join(dir, strings.ReplaceAll(l.name, " ", "-")+"-2.journal"), l.l, es[15:])
		j, err := OpenDir(nil, dir)
		if err != nil {
			t.Fatal(err)
		}
		boots, err := j.Boots(10)
		if err != nil {
			t.Fatal(err)
		}
		if len(boots) != 2 ||
			boots[0].ID.String() != bootA || boots[0].First != usecTime(es[0].realtime) || boots[0].Last != usecTime(es[4].realtime) ||
			boots[1].ID.String() != bootB || boots[1].First != usecTime(es[5].realtime) || boots[1].Last != usecTime(es[29].realtime) {
			t.Errorf("%s: Boots = %+v", l.name, boots)
		}
		if last, _ := j.Boots(1); len(last) != 1 || last[0].ID.String() != bootB {
			t.Errorf("%s: Boots(1) = %+v, want the newest", l.name, last)
		}

		units, more, err := j.Values("_SYSTEMD_UNIT", 10)
		var got []string
		for _, u := range units {
			got = append(got, string(u))
		}
		slices.Sort(got)
		if err != nil || more || !slices.Equal(got, []string{"unit0.service", "unit1.service", "unit2.service"}) {
			t.Errorf("%s: units %q more=%v err=%v", l.name, got, more, err)
		}
		if two, more, _ := j.Values("_SYSTEMD_UNIT", 2); len(two) != 2 || !more {
			t.Errorf("%s: Values(max 2) = %q, more=%v", l.name, two, more)
		}
		if none, more, err := j.Values("NOPE", 10); len(none) != 0 || more || err != nil {
			t.Errorf("%s: Values(NOPE) = %q %v %v", l.name, none, more, err)
		}
		msgs, _, err := j.Values("MESSAGE", 100)
		if err != nil || len(msgs) != 30 {
			t.Errorf("%s: %d MESSAGE values (compressed ones included), want 30: %v", l.name, len(msgs), err)
		}
		j.Close()
	}
}
