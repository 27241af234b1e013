// SPDX-License-Identifier: Apache-2.0

package main

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReadmeConformanceTable: README's table of the conformance scenarios
// CI runs says exactly what .ci/conformance/scenarios.txt makes run.sh run:
// each scenario, with each suite release, at each protocol version.
func TestReadmeConformanceTable(t *testing.T) {
	b, err := os.ReadFile(".ci/conformance/scenarios.txt")
	if err != nil {
		t.Fatal(err)
	}
	// run[scenario][column] lists protocol versions; column 1 is the
	// stable release, 2 the next one (README's column order).
	column := map[string]int{"stable": 1, "next": 2}
	run := map[string]map[int][]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 || column[f[0]] == 0 {
			t.Fatalf("scenarios.txt: %q is not SUITE VERSION SCENARIO", line)
		}
		if run[f[2]] == nil {
			run[f[2]] = map[int][]string{}
		}
		run[f[2]][column[f[0]]] = append(run[f[2]][column[f[0]]], f[1])
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "<!-- conformance-scenarios -->")
	table, _, ok2 := strings.Cut(table, "<!-- /conformance-scenarios -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no conformance-scenarios markers")
	}
	seen := map[string]bool{}
	for line := range strings.Lines(table) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		seen[name] = true
		want, ok := run[name]
		if !ok {
			t.Errorf("README lists %s, which scenarios.txt does not run", name)
			continue
		}
		for col := 1; col <= 2; col++ {
			var got []string
			for v := range strings.SplitSeq(cells[col+1], ",") {
				if v = strings.TrimSpace(v); v != "" {
					got = append(got, v)
				}
			}
			w := slices.Sorted(slices.Values(want[col]))
			if !slices.Equal(slices.Sorted(slices.Values(got)), w) {
				t.Errorf("README runs %s at %v in column %d; scenarios.txt at %v", name, got, col, w)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(run)) {
		if !seen[name] {
			t.Errorf("scenarios.txt runs %s, which README's table does not list", name)
		}
	}
}
