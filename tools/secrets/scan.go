// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// maxFindingsPerFile bounds the findings one file adds, so that a file
// full of matches cannot crowd out the others.
const maxFindingsPerFile = 50

// hit is one secret found in a file: where, by which rule, and its
// fingerprint. It never holds the secret.
type hit struct {
	line        int // from 1; 0 for a path-only rule
	rule        string
	description string
	fingerprint string
	// start and end are the secret's offsets in the file, for dropping a
	// generic finding that a specific rule's covers.
	start, end int
}

// scanner applies a rule set to files, fingerprinting what it finds with
// key.
type scanner struct {
	rules *ruleSet
	key   []byte
}

// fingerprint is a keyed hash of path, rule and secret, in hex: the same
// finding has the same fingerprint for as long as the key is kept, and
// the secret cannot be guessed from it without the key (a weak password's
// plain hash could be).
func (s *scanner) fingerprint(path, rule, secret string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(path + "\x00" + rule + "\x00" + secret))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// pathAllowed reports whether a global allowlist allows the whole file
// at path (rel, slash-separated, as gitleaks matches paths).
func (s *scanner) pathAllowed(rel string) bool {
	for i := range s.rules.allow {
		if s.rules.allow[i].allowsPath(rel) {
			return true
		}
	}
	return false
}

// pathHits returns the findings of the path-only rules (a PKCS#12 file)
// for the file at rel, whose fingerprints use name.
func (s *scanner) pathHits(name, rel string) []hit {
	var out []hit
	for i := range s.rules.rules {
		r := &s.rules.rules[i]
		if r.re == nil && r.path.MatchString(rel) && !ruleAllows(r, rel, "", "", "") {
			out = append(out, hit{rule: r.id, description: r.description, fingerprint: s.fingerprint(name, r.id, "")})
		}
	}
	return out
}

// scan returns the findings in data, the contents of the file at rel
// (name in fingerprints), and whether maxFindingsPerFile cut them short.
func (s *scanner) scan(name, rel string, data []byte) ([]hit, bool) {
	lower := bytes.ToLower(data)
	var out []hit
	text := string(data)
	for i := range s.rules.rules {
		r := &s.rules.rules[i]
		if r.re == nil || r.path != nil && !r.path.MatchString(rel) || !hasKeyword(lower, r.keywords) {
			continue
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
			match := text[m[0]:m[1]]
			secret := match
			if r.secretGroup > 0 && m[2*r.secretGroup] >= 0 {
				secret = text[m[2*r.secretGroup]:m[2*r.secretGroup+1]]
			} else if r.secretGroup == 0 {
				for g := 1; 2*g < len(m); g++ {
					if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
						secret = text[m[2*g]:m[2*g+1]]
						break
					}
				}
			}
			if r.entropy > 0 {
				if shannonEntropy(secret) <= r.entropy {
					continue
				}
				if strings.HasPrefix(r.id, "generic") && !strings.ContainsAny(secret, "0123456789") {
					continue // gitleaks' own extra check on generic rules: a word is not a key
				}
			}
			line := lineOf(text, m[0])
			if s.globalAllows(rel, secret, match, line) || ruleAllows(r, rel, secret, match, line) {
				continue
			}
			if len(out) == maxFindingsPerFile {
				return dropCovered(out), true
			}
			at := m[0] + strings.Index(match, secret)
			out = append(out, hit{line: 1 + strings.Count(text[:m[0]], "\n"), rule: r.id, description: r.description,
				fingerprint: s.fingerprint(name, r.id, secret), start: at, end: at + len(secret)})
		}
	}
	return dropCovered(out), false
}

// dropCovered drops the findings of generic rules whose secret overlaps
// a specific rule's, as gitleaks does: a GitHub token on a TOKEN= line
// is one finding, github-pat, not two.
func dropCovered(hits []hit) []hit {
	out := make([]hit, 0, len(hits))
	for _, g := range hits {
		covered := strings.HasPrefix(g.rule, "generic") && slices.ContainsFunc(hits, func(h hit) bool {
			return !strings.HasPrefix(h.rule, "generic") && h.start < g.end && g.start < h.end
		})
		if !covered {
			out = append(out, g)
		}
	}
	return out
}

// globalAllows reports whether a global allowlist allows a finding.
func (s *scanner) globalAllows(rel, secret, match, line string) bool {
	for i := range s.rules.allow {
		if s.rules.allow[i].allows(rel, secret, match, line) {
			return true
		}
	}
	return false
}

// ruleAllows reports whether one of the rule's allowlists allows a finding.
func ruleAllows(r *rule, rel, secret, match, line string) bool {
	for i := range r.allow {
		if r.allow[i].allows(rel, secret, match, line) {
			return true
		}
	}
	return false
}

// hasKeyword reports whether lower holds one of the keywords, or the rule
// has none (then it always applies).
func hasKeyword(lower []byte, keywords []string) bool {
	if len(keywords) == 0 {
		return true
	}
	for _, k := range keywords {
		if bytes.Contains(lower, []byte(k)) {
			return true
		}
	}
	return false
}

// maxLineSide bounds how much of a line lineOf gives on each side of a
// match: a file of one long line would otherwise cost a scan of it, and a
// run of the line allowlists over it, for every match in it.
const maxLineSide = 4096

// lineOf returns the line of text holding offset i, without its end, at
// most maxLineSide bytes of it on each side of i.
func lineOf(text string, i int) string {
	lo := max(0, i-maxLineSide)
	start := lo + strings.LastIndexByte(text[lo:i], '\n') + 1
	hi := min(len(text), i+maxLineSide)
	end := strings.IndexByte(text[i:hi], '\n')
	if end < 0 {
		return text[start:hi]
	}
	return text[start : i+end]
}
