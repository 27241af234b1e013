// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"errors"
	"testing"
	"time"

	"github.com/tailops/tailops/tools"
)

// FuzzParseQuery: any arguments parse to a query within the bounds, or to
// an *tools.ArgError; never a panic.
func FuzzParseQuery(f *testing.F) {
	f.Add("nginx", "err", "-1h", "now", "", "", "-1", "fail(ed)?", "oldest")
	f.Add("a@b.service", "7", "2025-01-02T15:04:05Z", "", "", "", bootA, "", "")
	f.Add("", "", "", "", "2025-01-02T15:04:05+02:00", "90s", "0", "(?i)x", "newest")
	f.Fuzz(func(t *testing.T, unit, prio, since, until, around, window, boot, grep, order string) {
		q, err := parseQuery(GetArgs{Unit: unit, Priority: tools.IntOrString(prio), Since: since, Until: until, Around: around, Window: window,
			Boot: tools.IntOrString(boot), Grep: grep, Order: order}, time.Unix(1700000000, 0))
		if err != nil {
			var ae *tools.ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("not an argument error: %v", err)
			}
			return
		}
		if q.maxPriority < -1 || q.maxPriority > 7 || len(q.unit) > maxUnitLen+len(".service") || q.lines != defaultLines {
			t.Fatalf("query out of bounds: %+v", q)
		}
		if !q.since.IsZero() && !q.until.IsZero() && q.until.Before(q.since) {
			t.Fatalf("until before since: %+v", q)
		}
		for _, ms := range q.matchSets() {
			for _, m := range ms {
				if len(m) == 0 || m[0] == '=' {
					t.Fatalf("bad match %q", m)
				}
			}
		}
	})
}
