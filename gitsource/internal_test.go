// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"testing"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// TestSSHConfigNeverRead: go-git's SSH transport asks this global for a
// Hostname and Port of every host; set, it reads ~/.ssh/config.
func TestSSHConfigNeverRead(t *testing.T) {
	if gitssh.DefaultSSHConfig != nil {
		t.Fatal("gitssh.DefaultSSHConfig is set: ~/.ssh/config would redirect connections")
	}
}

func TestKnownHostsGlob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"[127.0.0.1]:2222"}, "[127.0.0.1]:2222", true},
		{[]string{"[127.0.0.1]:2222"}, "1", false},
		{[]string{"127.0.0.1"}, "[127.0.0.1]:2222", false},
		{[]string{"*.lan"}, "git.lan", true},
		{[]string{"*.lan", "!bad.lan"}, "bad.lan", false},
		{[]string{"git?.lan"}, "git1.lan", true},
		{[]string{"GIT.LAN"}, "git.lan", true},
	} {
		if got := matchHost(c.patterns, c.name); got != c.want {
			t.Errorf("matchHost(%q, %q) = %v, want %v", c.patterns, c.name, got, c.want)
		}
	}
}
