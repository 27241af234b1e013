// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// defaultFileDeny is the built-in deny-list of secrets: the credential
// files people keep on homelab hosts. A pattern without a slash is a glob
// matched against every component of a path, so ".ssh" hides everything
// under any .ssh directory; a pattern with slashes is matched against
// consecutive components. Matching ignores case, and a name ending in one
// of backupSuffixes is also matched without it (server.key.bak,
// id_rsa~, shadow.old). README.md lists these (TestReadmeListsFileDeny).
var defaultFileDeny = []string{
	// SSH user keys in every naming (id_rsa, id_ed25519, id_ecdsa_sk...;
	// the public halves, *.pub, stay readable: see denyExcept), host
	// keys, and the whole .ssh directory.
	"id_*", "ssh_host_*_key", ".ssh",
	// Private keys, key stores and password databases. *.pem is not
	// here: see keyFileNames.
	"*.key", "*.p12", "*.pfx", "*.kdbx",
	// Password hashes, and the old ones pam keeps.
	"shadow", "shadow-", "gshadow", "gshadow-", "opasswd",
	// TLS private keys in Debian's ssl-cert directory and in Fedora's and
	// RHEL's /etc/pki/*/private, whatever their names, and the private
	// keys of their system NSS database (the sandbox's never-exposed
	// files: TestFileDenyCoversNeverExposed).
	"ssl/private", "pki/*/private", "pki/nssdb/key*.db",
	// Cloud credentials.
	".aws/credentials", ".config/gcloud", ".azure",
	// Database, registry, cluster, vault and git credentials.
	".pgpass", ".my.cnf", ".netrc", ".git-credentials", ".vault-token",
	"kubeconfig", ".kube/config", ".docker/config.json",
	// Environment files (.env, .env.local, .envrc...).
	".env*",
	// WireGuard configurations (they hold the private key) and the
	// directory they live in, wherever it is mounted (/etc/wireguard,
	// /host/etc/wireguard), and the Tailscale node's state (its keys).
	"wg*.conf", "wireguard", "tailscaled.state",
}

// denyExcept are names a built-in pattern matches that are not secrets:
// for a pattern here, a last component that also matches the exception
// is allowed. id_* hides SSH keys, but not their public halves.
var denyExcept = map[string]string{"id_*": "*.pub"}

// keyFileNames are name globs of files that hold a certificate or a
// private key, told apart by content: such a file is refused when it
// holds a PEM private key ("PRIVATE KEY" anywhere in it, which every PEM
// private key format has in its BEGIN line), or when it is larger than
// keyFileMaxCheck and so is not checked. A certificate-only file stays
// readable. Backup copies count, as for defaultFileDeny.
var keyFileNames = []string{"*.pem"}

// keyFileMaxCheck is the largest key-file the tools read to check it; a
// CA bundle is a few hundred KiB.
const keyFileMaxCheck = 1 << 20

// backupSuffixes mark copies of a file that the deny-list treats as the
// file itself.
var backupSuffixes = []string{".bak", ".old", "~"}

// DefaultFileDeny returns the built-in deny-list of the file tools: glob
// patterns matched, case-insensitively, against each component of a path
// (or, for patterns with slashes, against consecutive components).
// Deps.FileDeny adds to it.
func DefaultFileDeny() []string { return slices.Clone(defaultFileDeny) }

// DefaultFileDenyExceptions returns the names the built-in deny-list lets
// through although a pattern matches them: pattern to exception.
func DefaultFileDenyExceptions() map[string]string { return maps.Clone(denyExcept) }

// KeyFileNames returns the name globs of files refused only when they
// hold a private key (see the file tools' documentation).
func KeyFileNames() []string { return slices.Clone(keyFileNames) }

// BackupSuffixes returns the endings of backup copies that the deny-list
// matches like the file itself.
func BackupSuffixes() []string { return slices.Clone(backupSuffixes) }

// denyList matches root-relative paths against deny patterns.
type denyList struct {
	patterns [][]compMatcher // each pattern, one matcher per component

	// The patterns again, sorted by a byte a name must have for their
	// last component to match it, for matchEntry: a listing checks every
	// entry, and nearly every pattern can only match names that start
	// ("shadow", "id_*", "wg*.conf") or end ("*.key") with a byte of its
	// own. A backup copy's original starts with the same byte as the
	// copy, but ends with another.
	byFirst [][]int // first byte (of the lower-cased name): indices into patterns
	byLast  [][]int // last byte, for patterns with no first byte
	anyByte []int   // patterns with neither ("*", "?x*")
}

// firstByte returns the byte every name the matcher matches starts with,
// and false when there is none: a suffix glob, or a glob that starts with
// a metacharacter.
func (m compMatcher) firstByte() (byte, bool) {
	if m.s == "" || m.kind == 's' || m.kind == 'g' && strings.IndexByte(`*?[\`, m.s[0]) >= 0 {
		return 0, false
	}
	return m.s[0], true
}

// lastByte returns the byte every name the matcher matches ends with, and
// false when there is none: a prefix glob, or a glob that ends with a
// metacharacter or a character class (or an escaped character: its
// backslash is not looked behind).
func (m compMatcher) lastByte() (byte, bool) {
	if m.s == "" || m.kind == 'p' || m.kind == 'g' && strings.IndexByte(`*?]\`, m.s[len(m.s)-1]) >= 0 {
		return 0, false
	}
	return m.s[len(m.s)-1], true
}

// compMatcher matches one lower-cased path component against one glob,
// with fast paths for the common shapes: "name", "*.ext" and "name.*".
type compMatcher struct {
	kind   byte // '=' exact, 's' suffix, 'p' prefix, 'g' glob
	s      string
	except string // a glob of names let through although s matches; "" for none
}

func newCompMatcher(glob string) compMatcher {
	const meta = `*?[\`
	switch {
	case !strings.ContainsAny(glob, meta):
		return compMatcher{kind: '=', s: glob}
	case strings.HasPrefix(glob, "*") && !strings.ContainsAny(glob[1:], meta):
		return compMatcher{kind: 's', s: glob[1:]}
	case strings.HasSuffix(glob, "*") && !strings.ContainsAny(glob[:len(glob)-1], meta):
		return compMatcher{kind: 'p', s: glob[:len(glob)-1]}
	}
	return compMatcher{kind: 'g', s: glob}
}

// compName is a lower-cased path component with the original it copies
// when it ends in a backup suffix: worked out once per component, not
// once per pattern it is matched against.
type compName struct {
	name   string
	orig   string // name without its backup suffix; "" when it has none
	isCopy bool
}

func newCompName(lower string) compName {
	orig, isCopy := cutBackupSuffix(lower)
	return compName{name: lower, orig: orig, isCopy: isCopy}
}

// match reports whether the component matches, as it is or as the
// original of a backup copy, and is not an exception (as it is or as the
// original).
func (m compMatcher) match(c compName) bool {
	if !m.matchGlob(c.name) && !(c.isCopy && m.matchGlob(c.orig)) {
		return false
	}
	if m.except != "" {
		if ok, _ := filepath.Match(m.except, c.name); ok {
			return false
		}
		if ok, _ := filepath.Match(m.except, c.orig); ok && c.isCopy {
			return false
		}
	}
	return true
}

// cutBackupSuffix returns name without a backup suffix, if it has one
// (and something is left).
func cutBackupSuffix(name string) (string, bool) {
	for _, suf := range backupSuffixes {
		if orig, ok := strings.CutSuffix(name, suf); ok && orig != "" {
			return orig, true
		}
	}
	return "", false
}

func (m compMatcher) matchGlob(name string) bool {
	switch m.kind {
	case '=':
		return name == m.s
	case 's':
		return strings.HasSuffix(name, m.s)
	case 'p':
		return strings.HasPrefix(name, m.s)
	}
	ok, _ := filepath.Match(m.s, name)
	return ok
}

// newDenyList builds the built-in list plus extra, refusing malformed
// patterns.
func newDenyList(extra []string) (denyList, error) {
	var d denyList
	for i, p := range append(slices.Clone(defaultFileDeny), extra...) {
		pat, err := parseDenyPattern(p)
		if err != nil {
			return denyList{}, err
		}
		if len(pat) == 0 {
			continue
		}
		if i < len(defaultFileDeny) {
			pat[len(pat)-1].except = denyExcept[p]
		}
		d.patterns = append(d.patterns, pat)
	}
	d.byFirst, d.byLast = make([][]int, 256), make([][]int, 256)
	for i, pat := range d.patterns {
		m := pat[len(pat)-1]
		if b, ok := m.firstByte(); ok {
			d.byFirst[b] = append(d.byFirst[b], i)
		} else if b, ok := m.lastByte(); ok {
			d.byLast[b] = append(d.byLast[b], i)
		} else {
			d.anyByte = append(d.anyByte, i)
		}
	}
	return d, nil
}

// parseDenyPattern turns a pattern into one matcher per component; an
// empty pattern gives none.
func parseDenyPattern(p string) ([]compMatcher, error) {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return nil, nil
	}
	var pat []compMatcher
	for c := range strings.SplitSeq(strings.ToLower(p), "/") {
		if c == "" || c == "." || c == ".." {
			return nil, fmt.Errorf("checking deny pattern %q: empty, \".\" or \"..\" component", p)
		}
		if _, err := filepath.Match(c, ""); err != nil {
			return nil, fmt.Errorf("checking deny pattern %q: %w", p, err)
		}
		pat = append(pat, newCompMatcher(c))
	}
	return pat, nil
}

// isKeyFile reports whether name is a key-file name (keyFileNames),
// whose contents decide whether it may be read.
func isKeyFile(name string) bool {
	c := newCompName(strings.ToLower(name))
	for _, g := range keyFileNames {
		if newCompMatcher(g).match(c) {
			return true
		}
	}
	return false
}

// holdsPrivateKey reports whether b, a key-file's contents, holds a PEM
// private key.
func holdsPrivateKey(b []byte) bool { return bytes.Contains(b, []byte("PRIVATE KEY")) }

// match reports whether the root-relative path rel, or any directory on
// the way to it, is denied.
func (d denyList) match(rel string) bool {
	if rel == "." || rel == "" {
		return false
	}
	comps := compNames(rel)
	for end := 1; end <= len(comps); end++ {
		if d.matchEnding(comps[:end]) {
			return true
		}
	}
	return false
}

// compNames splits the root-relative path rel into lower-cased
// components.
func compNames(rel string) []compName {
	parts := strings.Split(strings.ToLower(rel), "/")
	comps := make([]compName, len(parts))
	for i, p := range parts {
		comps[i] = newCompName(p)
	}
	return comps
}

// matchEntry reports whether the entry name of the directory dirRel is
// denied, assuming dirRel itself is not: only windows ending at name need
// checking. Listings and walks call it once per entry, so the entry's
// name is lower-cased and cut once, only the patterns that can match a
// name with its first or last byte (or its original's last byte) are
// tried, and dirRel is split only when a pattern with slashes matches the
// name.
func (d denyList) matchEntry(dirRel, name string) bool {
	c := newCompName(strings.ToLower(name))
	e := entryMatch{d: d, dirRel: dirRel, c: c}
	if n := len(c.name); n > 0 {
		if e.matchAny(d.byFirst[c.name[0]]) || e.matchAny(d.byLast[c.name[n-1]]) {
			return true
		}
		// An original is never empty (cutBackupSuffix).
		if o := c.orig; c.isCopy && o[len(o)-1] != c.name[n-1] && e.matchAny(d.byLast[o[len(o)-1]]) {
			return true
		}
	}
	return e.matchAny(d.anyByte)
}

// entryMatch is one matchEntry call: the entry's name, and its
// directory's components once a pattern with slashes needs them.
type entryMatch struct {
	d      denyList
	dirRel string
	c      compName
	comps  []compName // nil until split
}

// matchAny reports whether one of the patterns (indices into d.patterns)
// matches the entry.
func (e *entryMatch) matchAny(pats []int) bool {
	for _, i := range pats {
		pat := e.d.patterns[i]
		last := len(pat) - 1
		if !pat[last].match(e.c) {
			continue
		}
		if last == 0 {
			return true
		}
		if e.comps == nil {
			e.comps = []compName{}
			if e.dirRel != "." && e.dirRel != "" {
				e.comps = compNames(e.dirRel)
			}
		}
		if last <= len(e.comps) && matchComps(pat[:last], e.comps[len(e.comps)-last:]) {
			return true
		}
	}
	return false
}

// matchEnding reports whether a pattern matches the components that end
// comps.
func (d denyList) matchEnding(comps []compName) bool {
	for _, pat := range d.patterns {
		if len(pat) <= len(comps) && matchComps(pat, comps[len(comps)-len(pat):]) {
			return true
		}
	}
	return false
}

func matchComps(pat []compMatcher, comps []compName) bool {
	for j := range pat {
		if !pat[j].match(comps[j]) {
			return false
		}
	}
	return true
}
