// SPDX-License-Identifier: Apache-2.0

//go:build goexperiment.jsonv2

package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// reflectedListing is listDirectoryResult without its MarshalJSONTo: the
// encoding reflection gives, which the method must reproduce.
type reflectedListing listDirectoryResult

// listingSamples are listings with every optional field set and unset,
// and names that need escaping or are not valid UTF-8.
func listingSamples() []listDirectoryResult {
	size := int64(4096)
	zero := int64(0)
	names := []string{"a", "", "<b>&'\"\\", "tab\there", "nl\n", "\x00\x1f\x7f", "caf\xc3\xa9", "bad\xff\xfe", "\u2028\u2029", "🦆", " lead", "trail "}
	var all []dirEntry
	for i, n := range names {
		e := dirEntry{Name: n, Type: []string{"file", "dir", "symlink", "other"}[i%4], Denied: i%3 == 0}
		if i%2 == 0 {
			s := size * int64(i)
			e.Size, e.Mode, e.MTime = &s, "0644", "2026-12-07T08:00:00Z"
		}
		all = append(all, e)
	}
	all = append(all, dirEntry{Name: "z", Type: "file", Size: &zero})
	return []listDirectoryResult{
		{},
		{Path: "/srv", Entries: []dirEntry{}},
		{Path: "/srv/<x>", Entries: all, Total: 100000, Truncated: true},
		{Path: "bad\xff", Entries: all[:1], Total: 1},
	}
}

func TestListingJSONAgrees(t *testing.T) {
	for i, r := range listingSamples() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkListingJSON(t, r)
		})
	}
}

// checkListingJSON fails when r's encodings, by value and by pointer,
// differ from reflection's, as json.Marshal and json.MarshalIndent give
// them.
func checkListingJSON(t *testing.T, r listDirectoryResult) {
	t.Helper()
	want, err := json.Marshal(reflectedListing(r))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{r, &r} {
		got, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSONTo gives\n%s\nreflection gives\n%s", got, want)
		}
	}
	wantIndent, _ := json.MarshalIndent(reflectedListing(r), "", "  ")
	gotIndent, err := json.MarshalIndent(r, "", "  ")
	if err != nil || !bytes.Equal(gotIndent, wantIndent) {
		t.Fatalf("indented: %v\n%s\nwant\n%s", err, gotIndent, wantIndent)
	}
}

func FuzzListingJSON(f *testing.F) {
	f.Add("/srv", "a", "file", int64(1), "0644", "2026-12-07T08:00:00Z", true, 3, false)
	f.Add("<&>", "bad\xff\u2028", "dir", int64(-1), "", "", false, 0, true)
	f.Fuzz(func(t *testing.T, path, name, typ string, size int64, mode, mtime string, denied bool, total int, truncated bool) {
		e := dirEntry{Name: name, Type: typ, Mode: mode, MTime: mtime, Denied: denied}
		if size >= 0 {
			e.Size = &size
		}
		checkListingJSON(t, listDirectoryResult{Path: path, Entries: []dirEntry{e, {Name: name + path, Type: typ}}, Total: total, Truncated: truncated})
	})
}

// BenchmarkListingJSON encodes a 10,000-entry listing, with the method
// and by reflection.
func BenchmarkListingJSON(b *testing.B) {
	r := listDirectoryResult{Path: "/srv/many", Total: 10000}
	for i := range 10000 {
		r.Entries = append(r.Entries, dirEntry{Name: fmt.Sprintf("file-%05d.log", i), Type: "file"})
	}
	for _, c := range []struct {
		name string
		v    any
	}{{"method", r}, {"reflection", reflectedListing(r)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
