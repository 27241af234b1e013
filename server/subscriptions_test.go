// SPDX-License-Identifier: Apache-2.0

package server

import "testing"

// TestMatchesKey: a subscription's key (the URI's container name or id)
// matches an event's id or name, or a short id of at least 12 characters
// as a prefix; never another container's name that merely shares a prefix.
func TestMatchesKey(t *testing.T) {
	const id = "4f1c2a9b7d3e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd"
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"web", true},
		{id, true},
		{id[:12], true},
		{id[:4], false}, // too short to be taken as an id prefix
		{"we", false},
		{"web-2", false},
		{"", false},
	} {
		if got := matchesKey(tc.key, []string{id, "web"}); got != tc.want {
			t.Errorf("matchesKey(%q): %v, want %v", tc.key, got, tc.want)
		}
	}
}
