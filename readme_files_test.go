// SPDX-License-Identifier: Apache-2.0

package main

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools/files"
)

// TestReadmeListsFileDeny: README's lists of what the file tools never
// read are written by hand; each must be exactly the list in the code:
// the deny-list with its exceptions, the key-file names, the backup
// suffixes, and the files the kernel sandbox must never expose.
func TestReadmeListsFileDeny(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile("`([^`]+)`")
	// items returns the code spans of the README line starting with
	// prefix, after its first ": " and before cut (when not "").
	items := func(prefix, cut string) []string {
		for line := range strings.Lines(string(readme)) {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
			if !ok {
				continue
			}
			_, rest, _ = strings.Cut(rest, ": ")
			if cut != "" {
				rest, _, _ = strings.Cut(rest, cut)
			}
			var out []string
			for _, m := range code.FindAllStringSubmatch(rest, -1) {
				out = append(out, m[1])
			}
			return out
		}
		t.Errorf("README.md has no line starting with %q", prefix)
		return nil
	}
	for _, tc := range []struct {
		prefix, cut string
		want        []string
	}{
		{"- Denied by name", "", append(files.DefaultFileDeny(), slices.Collect(maps.Values(files.DefaultFileDenyExceptions()))...)},
		{"- Denied when they hold a private key", "", files.KeyFileNames()},
		{"- Backup copies", "", files.BackupSuffixes()},
		{"- Never exposed", " (with", sandbox.NeverExposed()},
	} {
		got, want := items(tc.prefix, tc.cut), slices.Clone(tc.want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("README %q lists %v; the code has %v", tc.prefix, got, want)
		}
	}
}
