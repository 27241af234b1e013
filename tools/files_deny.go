// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// defaultFileDeny is the built-in deny-list of secrets. A pattern without
// a slash is a glob matched against every component of a path, so ".ssh"
// hides everything under any .ssh directory; a pattern with slashes is
// matched against consecutive components.
var defaultFileDeny = []string{
	// SSH private keys, and the whole .ssh directory.
	"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
	".ssh",
	// Keys and key stores. *.pem also matches public certificates: the
	// list matches names, not contents, and a certificate is rarely what
	// an operator needs from a log root.
	"*.key", "*.pem", "*.p12", "*.pfx",
	// Password databases, and their backups.
	"shadow", "shadow-", "gshadow", "gshadow-",
	// Environment files, kubeconfigs, registry and git credentials.
	".env", ".env.*",
	"kubeconfig", ".kube/config",
	".docker/config.json",
	".netrc", ".git-credentials",
}

// DefaultFileDeny returns the built-in deny-list of the file tools: glob
// patterns matched, case-insensitively, against each component of a path
// (or, for patterns with slashes, against consecutive components).
// Deps.FileDeny adds to it.
func DefaultFileDeny() []string { return slices.Clone(defaultFileDeny) }

// denyList matches root-relative paths against deny patterns.
type denyList struct {
	patterns [][]compMatcher // each pattern, one matcher per component
}

// compMatcher matches one lower-cased path component against one glob,
// with fast paths for the common shapes: "name", "*.ext" and "name.*".
type compMatcher struct {
	kind byte // '=' exact, 's' suffix, 'p' prefix, 'g' glob
	s    string
}

func newCompMatcher(glob string) compMatcher {
	const meta = `*?[\`
	switch {
	case !strings.ContainsAny(glob, meta):
		return compMatcher{'=', glob}
	case strings.HasPrefix(glob, "*") && !strings.ContainsAny(glob[1:], meta):
		return compMatcher{'s', glob[1:]}
	case strings.HasSuffix(glob, "*") && !strings.ContainsAny(glob[:len(glob)-1], meta):
		return compMatcher{'p', glob[:len(glob)-1]}
	}
	return compMatcher{'g', glob}
}

func (m compMatcher) match(name string) bool {
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
	for _, p := range append(slices.Clone(defaultFileDeny), extra...) {
		p = strings.Trim(strings.TrimSpace(p), "/")
		if p == "" {
			continue
		}
		var pat []compMatcher
		for c := range strings.SplitSeq(strings.ToLower(p), "/") {
			if c == "" || c == "." || c == ".." {
				return denyList{}, fmt.Errorf("checking deny pattern %q: empty, \".\" or \"..\" component", p)
			}
			if _, err := filepath.Match(c, ""); err != nil {
				return denyList{}, fmt.Errorf("checking deny pattern %q: %w", p, err)
			}
			pat = append(pat, newCompMatcher(c))
		}
		d.patterns = append(d.patterns, pat)
	}
	return d, nil
}

// match reports whether the root-relative path rel, or any directory on
// the way to it, is denied.
func (d denyList) match(rel string) bool {
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

// matchEntry reports whether the entry name of the directory dirRel is
// denied, assuming dirRel itself is not: only windows ending at name need
// checking.
func (d denyList) matchEntry(dirRel, name string) bool {
	name = strings.ToLower(name)
	var comps []string // dirRel's components, split only if a pattern needs them
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
		if last <= len(comps) && matchComps(pat[:last], comps[len(comps)-last:]) {
			return true
		}
	}
	return false
}

// matchEnding reports whether a pattern matches the components that end
// comps.
func (d denyList) matchEnding(comps []string) bool {
	for _, pat := range d.patterns {
		if len(pat) <= len(comps) && matchComps(pat, comps[len(comps)-len(pat):]) {
			return true
		}
	}
	return false
}

func matchComps(pat []compMatcher, comps []string) bool {
	for j := range pat {
		if !pat[j].match(comps[j]) {
			return false
		}
	}
	return true
}
