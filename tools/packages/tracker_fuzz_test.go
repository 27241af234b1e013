// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzTrackerJSON parses arbitrary data as the security tracker's JSON,
// every package wanted or none: it must never panic; it fails with a
// *TrackerFormatError or keeps entries within the bounds, for the
// release asked for, and only when the data is valid JSON.
func FuzzTrackerJSON(f *testing.F) {
	addSeeds(f, "testdata/tracker.json")
	f.Add([]byte(`{"openssl": {"CVE-2024-1": {"releases": {"bookworm": {"status": "open", "urgency": "high**"}}}}}`))
	f.Add([]byte(`{"a": {}, "b": {"TEMP-1": {"description": "\u00e9", "releases": {"bookworm": {"fixed_version": "0"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, all := range []bool{true, false} {
			d, err := parseTracker(context.Background(), bytes.NewReader(data), "bookworm", func(string) bool { return all })
			if err != nil {
				if d != nil {
					t.Fatalf("a result with the error %v", err)
				}
				if fe := (*TrackerFormatError)(nil); !errors.As(err, &fe) {
					t.Fatalf("error %v (%T) is not a *TrackerFormatError", err, err)
				}
				continue
			}
			if !json.Valid(data) {
				t.Fatalf("invalid JSON parsed without error: %q", data)
			}
			if !all && d.Entries != 0 || d.Entries > maxTrackerEntries {
				t.Fatalf("%d entries kept (all %v)", d.Entries, all)
			}
			n := 0
			for _, es := range d.Packages {
				for _, e := range es {
					n++
					if len(e.Description) > maxDescriptionLen || len(e.CVE) > 64 || len(e.Fixed) > maxVersionLen {
						t.Fatalf("an entry beyond the bounds: %+v", e)
					}
				}
			}
			if n != d.Entries {
				t.Fatalf("%d entries counted, %d kept", d.Entries, n)
			}
		}
	})
}
