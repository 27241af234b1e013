// SPDX-License-Identifier: Apache-2.0

package files

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The deny-list's matcher works out each component's lower-cased form and
// backup original once, not once per pattern, because listings call it
// for every entry. refDenyList is the matcher as it was before that (one
// cutBackupSuffix per pattern per component), kept as the oracle, with
// every component matched by filepath.Match on its whole glob rather than
// the fast paths: the tests below check that both give the same answer
// for every path.

type refDenyList struct{ patterns [][]refCompMatcher }

type refCompMatcher struct{ glob, except string }

func newRefDenyList(extra []string) (refDenyList, error) {
	d, err := newDenyList(extra)
	if err != nil {
		return refDenyList{}, err
	}
	var r refDenyList
	for _, pat := range d.patterns {
		var rp []refCompMatcher
		for _, m := range pat {
			glob := m.s
			switch m.kind {
			case 's':
				glob = "*" + glob
			case 'p':
				glob += "*"
			}
			rp = append(rp, refCompMatcher{glob: glob, except: m.except})
		}
		r.patterns = append(r.patterns, rp)
	}
	return r, nil
}

func (m refCompMatcher) matchGlob(name string) bool {
	ok, _ := filepath.Match(m.glob, name)
	return ok
}

func (m refCompMatcher) match(name string) bool {
	orig, isCopy := cutBackupSuffix(name)
	if !m.matchGlob(name) && !(isCopy && m.matchGlob(orig)) {
		return false
	}
	if m.except != "" {
		if ok, _ := filepath.Match(m.except, name); ok {
			return false
		}
		if ok, _ := filepath.Match(m.except, orig); ok && isCopy {
			return false
		}
	}
	return true
}

func (d refDenyList) match(rel string) bool {
	if rel == "." || rel == "" {
		return false
	}
	comps := strings.Split(strings.ToLower(rel), "/")
	for end := 1; end <= len(comps); end++ {
		if d.matchEnding(comps[:end]) {
			return true
		}
	}
	return false
}

func (d refDenyList) matchEntry(dirRel, name string) bool {
	name = strings.ToLower(name)
	var comps []string
	for _, pat := range d.patterns {
		last := len(pat) - 1
		if !pat[last].match(name) {
			continue
		}
		if last == 0 {
			return true
		}
		if comps == nil {
			comps = []string{}
			if dirRel != "." && dirRel != "" {
				comps = strings.Split(strings.ToLower(dirRel), "/")
			}
		}
		if last <= len(comps) && refMatchComps(pat[:last], comps[len(comps)-last:]) {
			return true
		}
	}
	return false
}

func (d refDenyList) matchEnding(comps []string) bool {
	for _, pat := range d.patterns {
		if len(pat) <= len(comps) && refMatchComps(pat, comps[len(comps)-len(pat):]) {
			return true
		}
	}
	return false
}

func refMatchComps(pat []refCompMatcher, comps []string) bool {
	for j := range pat {
		if !pat[j].match(comps[j]) {
			return false
		}
	}
	return true
}

// denyDiffExtra are operator patterns for the differential tests, one of
// each matcher shape, with slashes and without, starting with a literal,
// a metacharacter and a multi-byte character.
var denyDiffExtra = []string{"*.secret", "private", "vault/tokens", "/abs/pattern/", "ca?e[0-9].db", "tok*", "a*/b?/*.c", `lit\*eral`, `\esc*`, "?x.log", "[ab]y*", "ÿ*", "Ωmega", "*.[ch]", "?[xy]", `*\]`, `*\z`}

// checkDenyAgrees fails when the deny-list and the oracle disagree on rel,
// as a whole path or as an entry of its directory.
func checkDenyAgrees(t *testing.T, d denyList, ref refDenyList, rel string) {
	t.Helper()
	if got, want := d.match(rel), ref.match(rel); got != want {
		t.Errorf("match(%q) = %v, the old matcher says %v", rel, got, want)
	}
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if got, want := d.matchEntry(dir, name), ref.matchEntry(dir, name); got != want {
		t.Errorf("matchEntry(%q, %q) = %v, the old matcher says %v", dir, name, got, want)
	}
}

// denyDiffNames are names near every pattern: the pattern's own text with
// its metacharacters filled in, in other cases, as backup copies, with
// the exception's suffix, and cut short.
func denyDiffNames() []string {
	var names []string
	for _, p := range append(DefaultFileDeny(), denyDiffExtra...) {
		for c := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
			filled := strings.NewReplacer("*", "x", "?", "q", "[0-9]", "7", `\`, "").Replace(c)
			for _, n := range []string{c, filled, strings.ToUpper(filled), filled[:len(filled)/2], filled + "z", "z" + filled} {
				names = append(names, n, n+".pub", n+".pub.bak")
				for _, suf := range BackupSuffixes() {
					names = append(names, n+suf, n+suf+suf)
				}
			}
		}
	}
	return append(names, "", "~", ".bak", ".old", "a.BAK", "file-00001.log", "ÄRGER.KEY", "ǅ.key", "\xff.key", "id_\xff",
		"main.c", "main.H~", "main.c.bak", "ay", "qx.old", "a]", "a]~", "az", "a\\z")
}

// TestDenyMatchAgreesWithOld checks the deny-list against the old matcher
// on names near every pattern, alone and under directories that complete
// the patterns with slashes.
func TestDenyMatchAgreesWithOld(t *testing.T) {
	t.Parallel()
	names := denyDiffNames()
	if !slices.Contains(names, "id_x.pub") {
		t.Fatal("the names miss the exception id_* / *.pub")
	}
	dirs := []string{"", "logs", ".AWS", "home/.kube", "x/.docker", ".config", "vault", "abs/pattern", "ab/bq", "a/.ssh.bak"}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"built-in only", nil},
		{"with operator patterns", denyDiffExtra},
		{"with a pattern matching everything", []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := newDenyList(tc.extra)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := newRefDenyList(tc.extra)
			if err != nil {
				t.Fatal(err)
			}
			for _, dir := range dirs {
				for _, name := range names {
					checkDenyAgrees(t, d, ref, path.Join(dir, name))
				}
			}
		})
	}
}

// FuzzDenyMatch checks the deny-list against the old matcher on arbitrary
// root-relative paths.
func FuzzDenyMatch(f *testing.F) {
	d, err := newDenyList(denyDiffExtra)
	if err != nil {
		f.Fatal(err)
	}
	ref, err := newRefDenyList(denyDiffExtra)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"id_rsa", "id_rsa.pub.bak", ".AWS/credentials~", "a/b/.kube/config.old", "SHADOW-", "wg0.conf.bak.bak",
		"ssh_host_ed25519_key", "abs/pattern/x", "ab/bq/z.c", "lit*eral", "caze9.db.old", "x/.env.local", "~", "a/.bak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		checkDenyAgrees(t, d, ref, rel)
	})
}
