// SPDX-License-Identifier: Apache-2.0

package files

import (
	"path"
	"strings"
	"testing"
)

func TestFileDenyMatch(t *testing.T) {
	t.Parallel()
	d, err := newDenyList([]string{"*.secret", "private", "vault/tokens", "/abs/pattern/", "ca?e[0-9].db"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel    string
		denied bool
	}{
		{".", false},
		{"app.log", false},
		{"id_rsa", true},
		{"home/user/id_rsa", true},
		{"id_rsa.pub", false},
		{"home/.ssh", true},
		{"home/.ssh/known_hosts", true},
		{".sshd/x", false},
		{"a/b.KEY", true},
		{"certs/ca.pem", false}, // a key-file: judged by content when read
		{"a/b.key.bak", true},
		{"id_rsa~", true},
		{"id_rsa.pub.old", false},
		{"notes.bak", false},
		{"x.p12", true},
		{"x.PFX", true},
		{"etc/shadow", true},
		{"etc/shadow-", true},
		{"etc/shadowsocks.log", false},
		{".env", true},
		{".env.local", true},
		{".envrc", true},
		{"env.example", false},
		{"kubeconfig", true},
		{".kube/config", true},
		{".kube/cache/x", false},
		{"config", false},
		{"a/.docker/config.json", true},
		{"config.json", false},
		{".netrc", true},
		{".git-credentials", true},
		{"x.secret", true},
		{"private", true},
		{"a/private/b", true},
		{"a/vault/tokens/b", true},
		{"a/vault/b/tokens", false},
		{"abs/pattern/x", true},
		{"cafe1.db", true},
		{"cafe.db", false},
	} {
		if got := d.match(tc.rel); got != tc.denied {
			t.Errorf("match(%q) = %v, want %v", tc.rel, got, tc.denied)
		}
		// matchEntry, used by walks, agrees when the parent is allowed.
		dir, name := path.Split(tc.rel)
		dir = path.Clean("./" + dir)
		if tc.rel != "." && !d.match(dir) {
			if got := d.matchEntry(dir, name); got != tc.denied {
				t.Errorf("matchEntry(%q, %q) = %v, want %v", dir, name, got, tc.denied)
			}
		}
	}
	for _, bad := range []string{"[", "a/../b", "a//b"} {
		if _, err := newDenyList([]string{bad}); err == nil || !strings.Contains(err.Error(), "deny pattern") {
			t.Errorf("pattern %q: %v", bad, err)
		}
	}
	if got := DefaultFileDeny(); len(got) != len(defaultFileDeny) || &got[0] == &defaultFileDeny[0] {
		t.Error("DefaultFileDeny does not return a copy")
	}
}
