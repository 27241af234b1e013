// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	_ "embed"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// gitleaksTOML is gitleaks' default rule set (MIT; see rules/LICENSE).
//
//go:embed rules/gitleaks.toml
var gitleaksTOML string

// ruleFile is the shape of a gitleaks configuration file.
type ruleFile struct {
	Title      string          `toml:"title"`
	MinVersion string          `toml:"minVersion"`
	Allowlist  *allowlistFile  `toml:"allowlist"`
	Allowlists []allowlistFile `toml:"allowlists"`
	Rules      []ruleEntry     `toml:"rules"`
}

// ruleEntry is one [[rules]] table.
type ruleEntry struct {
	ID          string          `toml:"id"`
	Description string          `toml:"description"`
	Regex       string          `toml:"regex"`
	Path        string          `toml:"path"`
	SecretGroup int             `toml:"secretGroup"`
	Entropy     float64         `toml:"entropy"`
	Keywords    []string        `toml:"keywords"`
	Tags        []string        `toml:"tags"`
	Allowlists  []allowlistFile `toml:"allowlists"`
}

// allowlistFile is an [allowlist] or [[rules.allowlists]] table.
type allowlistFile struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	StopWords   []string `toml:"stopwords"`
	Commits     []string `toml:"commits"`
}

// rule is a compiled gitleaks rule.
type rule struct {
	id, description string
	re              *regexp.Regexp // nil: a path-only rule
	path            *regexp.Regexp // nil: any path
	secretGroup     int
	entropy         float64
	keywords        []string // lower case
	allow           []allowlist
}

// allowlist is a compiled allowlist: a finding it matches is not one.
type allowlist struct {
	and       bool   // every check given must match (condition AND), else any
	target    string // what regexes test: "secret", "match" or "line"
	regexes   []*regexp.Regexp
	paths     []*regexp.Regexp
	stopwords []string // lower case
}

// ruleSet is the compiled rules and the global allowlists.
type ruleSet struct {
	rules []rule
	allow []allowlist
}

// loadRules parses and compiles a gitleaks configuration. Keys it does
// not know are an error, so that a newer file whose rules would be read
// wrong is refused rather than half applied.
func loadRules(text string) (*ruleSet, error) {
	var f ruleFile
	md, err := toml.Decode(text, &f)
	if err != nil {
		return nil, fmt.Errorf("parsing the gitleaks rules: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("parsing the gitleaks rules: unknown keys %v", u)
	}
	rs := &ruleSet{}
	if f.Allowlist != nil {
		f.Allowlists = append(f.Allowlists, *f.Allowlist)
	}
	for _, a := range f.Allowlists {
		al, err := compileAllowlist(a)
		if err != nil {
			return nil, fmt.Errorf("compiling the global allowlist: %w", err)
		}
		rs.allow = append(rs.allow, al)
	}
	seen := map[string]bool{}
	for _, e := range f.Rules {
		if e.ID == "" || seen[e.ID] {
			return nil, fmt.Errorf("compiling the gitleaks rules: a rule with an empty or repeated id %q", e.ID)
		}
		seen[e.ID] = true
		r := rule{id: e.ID, description: e.Description, secretGroup: e.SecretGroup, entropy: e.Entropy}
		if e.Regex == "" && e.Path == "" {
			return nil, fmt.Errorf("compiling rule %s: neither regex nor path", e.ID)
		}
		if e.Regex != "" {
			if r.re, err = regexp.Compile(e.Regex); err != nil {
				return nil, fmt.Errorf("compiling rule %s: %w", e.ID, err)
			}
			if r.secretGroup > r.re.NumSubexp() {
				return nil, fmt.Errorf("compiling rule %s: secretGroup %d of %d groups", e.ID, r.secretGroup, r.re.NumSubexp())
			}
		}
		if e.Path != "" {
			if r.path, err = regexp.Compile(e.Path); err != nil {
				return nil, fmt.Errorf("compiling rule %s's path: %w", e.ID, err)
			}
		}
		for _, k := range e.Keywords {
			r.keywords = append(r.keywords, strings.ToLower(k))
		}
		for _, a := range e.Allowlists {
			al, err := compileAllowlist(a)
			if err != nil {
				return nil, fmt.Errorf("compiling rule %s's allowlist: %w", e.ID, err)
			}
			r.allow = append(r.allow, al)
		}
		rs.rules = append(rs.rules, r)
	}
	if len(rs.rules) == 0 {
		return nil, fmt.Errorf("compiling the gitleaks rules: no rules")
	}
	return rs, nil
}

// compileAllowlist compiles one allowlist. Commits (git history) do not
// apply to files and are ignored.
func compileAllowlist(a allowlistFile) (allowlist, error) {
	al := allowlist{target: a.RegexTarget}
	switch strings.ToUpper(a.Condition) {
	case "", "OR":
	case "AND":
		al.and = true
	default:
		return allowlist{}, fmt.Errorf("condition %q: want OR or AND", a.Condition)
	}
	switch a.RegexTarget {
	case "":
		al.target = "secret"
	case "secret", "match", "line":
	default:
		return allowlist{}, fmt.Errorf("regexTarget %q: want secret, match or line", a.RegexTarget)
	}
	for _, s := range a.Regexes {
		re, err := regexp.Compile(s)
		if err != nil {
			return allowlist{}, err
		}
		al.regexes = append(al.regexes, re)
	}
	for _, s := range a.Paths {
		re, err := regexp.Compile(s)
		if err != nil {
			return allowlist{}, err
		}
		al.paths = append(al.paths, re)
	}
	for _, w := range a.StopWords {
		al.stopwords = append(al.stopwords, strings.ToLower(w))
	}
	return al, nil
}

// allowsPath reports whether the allowlist allows every finding in the
// file at path by its path alone (a paths-only list, or OR).
func (a *allowlist) allowsPath(path string) bool {
	if len(a.paths) == 0 || a.and && (len(a.regexes) > 0 || len(a.stopwords) > 0) {
		return false
	}
	return matchAny(a.paths, path)
}

// allows reports whether the allowlist allows a finding: its secret, the
// whole match, the line it is on, and the file's path.
func (a *allowlist) allows(path, secret, match, line string) bool {
	target := secret
	switch a.target {
	case "match":
		target = match
	case "line":
		target = line
	}
	var checks []bool
	if len(a.paths) > 0 {
		checks = append(checks, matchAny(a.paths, path))
	}
	if len(a.regexes) > 0 {
		checks = append(checks, matchAny(a.regexes, target))
	}
	if len(a.stopwords) > 0 {
		lower := strings.ToLower(secret)
		hit := false
		for _, w := range a.stopwords {
			if strings.Contains(lower, w) {
				hit = true
				break
			}
		}
		checks = append(checks, hit)
	}
	if len(checks) == 0 {
		return false
	}
	for _, c := range checks {
		if c && !a.and {
			return true
		}
		if !c && a.and {
			return false
		}
	}
	return a.and
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// shannonEntropy is the Shannon entropy of s's bytes, in bits, as
// gitleaks computes a secret's.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
