// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"regexp"
	"strings"
	"unicode"
)

// SecretName reports whether a name (a map key, an environment variable,
// a label, a flag, the key in key=value text) names a secret. It does when,
// split into words at non-alphanumerics and camelCase boundaries, one of
// its words
//   - contains token, secret, passw (password, passwd), passphrase,
//     credential or cookie;
//   - contains auth but not author (auth, oauth, basicauth, authorization,
//     Proxy-Authorization; not author, authority, coauthor);
//   - ends in key or keys (key, api_key, apikey, privateKey, x-api-key,
//     ssh_keys, STRIPE_KEY, LICENSE_KEY; also monkey, a harmless false
//     positive; not keyword, keyboard, keyspace, where "key" starts a
//     longer word);
//   - ends in salt or dsn (HASH_SALT, SENTRY_DSN: a DSN carries its key);
//   - is pass or pwd (DB_PWD, MYSQL_PWD).
func SecretName(name string) bool {
	for _, w := range nameWords(name) {
		switch {
		case strings.Contains(w, "token"), strings.Contains(w, "secret"),
			strings.Contains(w, "passw"), strings.Contains(w, "passphrase"),
			strings.Contains(w, "credential"), strings.Contains(w, "cookie"):
			return true
		case strings.Contains(w, "auth") && !strings.Contains(w, "author"),
			strings.Contains(w, "authoriz"):
			return true
		case strings.HasSuffix(w, "key"), strings.HasSuffix(w, "keys"),
			strings.HasSuffix(w, "salt"), strings.HasSuffix(w, "dsn"):
			return true
		case w == "pass", w == "pwd":
			return true
		}
	}
	return false
}

// nameWords splits a name into lower-case words at non-alphanumerics and
// camelCase boundaries: "X-API-Key" → x api key, "privateKeyPEM" →
// private key pem, "APIKey" → api key.
func nameWords(k string) []string {
	var words []string
	rs := []rune(k)
	start := -1
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if start >= 0 {
				words = append(words, strings.ToLower(string(rs[start:i])))
				start = -1
			}
			continue
		}
		if start >= 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				words = append(words, strings.ToLower(string(rs[start:i])))
				start = i
			}
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		words = append(words, strings.ToLower(string(rs[start:])))
	}
	return words
}

// Text returns s with every token-shaped substring replaced by Redacted,
// in place, so the text around it stays readable:
//   - PEM private key blocks, to their END line or the end of the text;
//   - header values: Authorization, Proxy-Authorization, Cookie,
//     Set-Cookie, X-Api-Key, Api-Key, X-Auth-Token ("Authorization: Basic
//     …" keeps "Authorization: ");
//   - "Bearer <x>";
//   - JWTs (eyJ….….…) and TailOps HMAC tokens (base64url "." 64 hex);
//   - known prefixes: tskey-…, ghp_/gho_/ghu_/ghs_/ghr_/github_pat_…,
//     glpat-…, xoxb-/xoxp-/… and xapp-… (Slack), AKIA/ASIA (AWS key ids),
//     sk-… (OpenAI, Anthropic), sk_live_/sk_test_/rk_live_/rk_test_ and
//     whsec_ (Stripe), npm_…, pypi-…, dckr_pat_…, hf_…, AIza… (Google),
//     shpat_/shpss_… (Shopify), dop_v1_… (DigitalOcean), SWMTKN-…
//     (Docker swarm join tokens), claim-… (Plex);
//   - passwords in URLs (scheme://user:[REDACTED]@host);
//   - the value in key=value, key: value and "key":"value" text when the
//     key is a SecretName (--password=x, API_TOKEN=x, ?token=x,
//     "secret":"x"); the value is a quoted string or runs to whitespace or
//     one of "',;&?, so "wrong password: try again" loses "try";
//   - random-looking tokens under any name (see randomToken): a run of
//     at least 20 base64 characters that mixes upper and lower case, changes
//     character class often, and does not read as words.
//
// Kept, although a secret could look like them: hex strings of any length
// (container, image and volume ids, digests, git commits, checksums: the
// tools need them, and a hex key cannot be told from them), and strings
// of one letter case (base32, lower-case base36).
func Text(s string) string {
	if s == "" {
		return s
	}
	var lower string
	for i := range valueRules {
		r := &valueRules[i]
		if !r.mayMatch(s, &lower) {
			continue
		}
		if r.fn != nil {
			s = r.fn(s)
		} else {
			s = r.re.ReplaceAllString(s, r.repl)
		}
		lower = ""
	}
	return s
}

// valueRule replaces token-shaped substrings. hints are substrings one of
// which any match contains (compared case-insensitively when fold is set),
// so the regexp only runs on strings that may match; no hints means the
// rule always runs.
type valueRule struct {
	hints []string
	fold  bool
	re    *regexp.Regexp
	repl  string              // regexp replacement, unless fn is set
	fn    func(string) string // does the replacing instead of re and repl
}

// valueRules are applied in order; later rules see earlier replacements.
var valueRules = []valueRule{
	{ // PEM private keys, to the END line or the end of the text.
		hints: []string{"PRIVATE KEY"},
		re:    regexp.MustCompile(`(?s)-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----.*?(-----END ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----|\z)`),
		repl:  Redacted,
	},
	{ // Header values: Authorization: Basic …, Cookie: a=b; c=d.
		hints: []string{"authorization", "cookie", "api-key", "auth-token"},
		fold:  true,
		re:    regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|set-cookie|cookie|x-api-key|api-key|x-auth-token)\s*:\s*[^'"\r\n]+`),
		repl:  "${1}: " + Redacted,
	},
	{
		hints: []string{"bearer"},
		fold:  true,
		re:    regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+`),
		repl:  "${1} " + Redacted,
	},
	{ // JWT: three base64url segments, the first a JSON object.
		hints: []string{"eyJ"},
		re:    regexp.MustCompile(`\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`),
		repl:  Redacted,
	},
	{ // TailOps HMAC token: base64url payload "." 64 hex signature.
		hints: []string{"."},
		re:    regexp.MustCompile(`[A-Za-z0-9_-]+={0,2}\.[0-9a-fA-F]{64}\b`),
		repl:  Redacted,
	},
	{
		hints: []string{"tskey-"},
		re:    regexp.MustCompile(`\btskey-[A-Za-z0-9_-]+`),
		repl:  Redacted,
	},
	{
		hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re:    regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})`),
		repl:  Redacted,
	},
	{
		hints: []string{"glpat-"},
		re:    regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{16,}`),
		repl:  Redacted,
	},
	{
		hints: []string{"xox", "xapp-"},
		re:    regexp.MustCompile(`\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]+`),
		repl:  Redacted,
	},
	{
		hints: []string{"AKIA", "ASIA"},
		re:    regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`),
		repl:  Redacted,
	},
	{
		hints: []string{"sk-"},
		re:    regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}`),
		repl:  Redacted,
	},
	{ // Service tokens with a fixed prefix.
		hints: []string{"k_live_", "k_test_", "whsec_", "npm_", "pypi-", "dckr_pat_", "hf_", "AIza", "shp", "dop_v1_", "SWMTKN-", "claim-"},
		re: regexp.MustCompile(`\b(?:[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{16,}|npm_[A-Za-z0-9]{30,}|` +
			`pypi-[A-Za-z0-9_-]{30,}|dckr_pat_[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{30,}|AIza[A-Za-z0-9_-]{35}|` +
			`shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}|dop_v1_[a-f0-9]{64}|SWMTKN-1-[a-z0-9-]{40,}|claim-[A-Za-z0-9_-]{16,})`),
		repl: Redacted,
	},
	{ // scheme://user:password@host
		hints: []string{"://"},
		re:    regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'"]*):[^/\s@'"]+@`),
		repl:  "${1}:" + Redacted + "@",
	},
	{ // http(s)://token@host: over HTTP a user name alone is a token's
		// place (Gitea, GitHub and GitLab take one there); ssh://git@host
		// and the like are left alone.
		hints: []string{"://"},
		re:    regexp.MustCompile(`(?i)\b(https?://)[^/\s:@'"]+@`),
		repl:  "${1}" + Redacted + "@",
	},
	{ // key=value, key: value, "key":"value" with a secret name.
		hints: []string{"=", ":"},
		fn:    redactKeyValues,
	},
	{ // Random-looking tokens under any name.
		fn: redactRandomTokens,
	},
}

// keySep matches the key and separator of key=value, key: value and
// "key":"value".
var keySep = regexp.MustCompile(`([A-Za-z0-9_.-]*[A-Za-z0-9])["']?\s*[=:]\s*`)

// redactKeyValues replaces the values of secret names in key=value,
// key: value and "key":"value" text. A value is a quoted string, or runs to
// whitespace or one of "',;&?.
func redactKeyValues(s string) string {
	var b strings.Builder
	last := 0
	for _, ix := range keySep.FindAllStringSubmatchIndex(s, -1) {
		if ix[0] < last || !SecretName(s[ix[2]:ix[3]]) {
			continue
		}
		start, end := ix[1], ix[1]
		quote := ""
		if end < len(s) && (s[end] == '"' || s[end] == '\'') {
			quote = s[end : end+1]
			if n := strings.IndexByte(s[end+1:], s[end]); n >= 0 {
				end += n + 2
			} else {
				end = len(s)
			}
		} else {
			for end < len(s) && !strings.ContainsRune(" \t\r\n\"',;&?", rune(s[end])) {
				end++
			}
		}
		if end == start || strings.HasPrefix(strings.TrimLeft(s[start:end], `"'`), Redacted) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(quote + Redacted + quote)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// minRandom is the shortest token randomToken considers.
const minRandom = 20

// tokenRun matches a run of base64 (standard and URL) characters with its
// padding: the candidates for randomToken.
var tokenRun = regexp.MustCompile(`[A-Za-z0-9+/_-]{20,}={0,2}`)

// redactRandomTokens replaces random-looking runs (randomToken). Within a
// run that has slashes, only the segments that are random-looking by
// themselves are replaced, when there are any: a path or URL keeps its
// shape, a base64 key with a slash in it goes whole.
func redactRandomTokens(s string) string {
	if len(s) < minRandom {
		return s
	}
	return tokenRun.ReplaceAllStringFunc(s, func(run string) string {
		if !randomToken(run) {
			return run
		}
		if strings.Contains(run, "/") {
			segs := strings.Split(run, "/")
			found := false
			for i, seg := range segs {
				if randomToken(seg) {
					segs[i], found = Redacted, true
				}
			}
			if found {
				return strings.Join(segs, "/")
			}
		}
		return Redacted
	})
}

// randomToken reports whether t looks like a random token, not words or an
// identifier: at least minRandom characters; both upper and lower case
// letters; the character class (upper, lower, digit; other characters are
// left out) changing between at least 30% of neighbouring characters
// (about 62% in random base62, under 30% in CamelCase and snake_case
// names); and less than half of its letters in runs of four or more lower
// case letters (words: "ApplicationKey2024Backup" has most of its letters
// in such runs, random text few). Random base62 tokens of 20 characters
// pass about 95 times in 100, of 32 characters about 99 in 100.
func randomToken(t string) bool {
	if len(t) < minRandom {
		return false
	}
	var upper, lower, letters, inWords, run, changes, n int
	prev := -1
	for _, r := range t {
		c := charClass(r)
		if c < 0 {
			continue
		}
		if c == classLower {
			run++
		} else {
			if run >= 4 {
				inWords += run
			}
			run = 0
		}
		switch c {
		case classUpper:
			upper++
			letters++
		case classLower:
			lower++
			letters++
		}
		if prev >= 0 && c != prev {
			changes++
		}
		prev = c
		n++
	}
	if run >= 4 {
		inWords += run
	}
	return upper > 0 && lower > 0 && n >= 2 && changes*10 >= (n-1)*3 && inWords*2 < letters
}

// Character classes for randomToken.
const (
	classUpper = iota
	classLower
	classDigit
)

// charClass is r's class for randomToken, or -1 for a separator.
func charClass(r rune) int {
	switch {
	case 'A' <= r && r <= 'Z':
		return classUpper
	case 'a' <= r && r <= 'z':
		return classLower
	case '0' <= r && r <= '9':
		return classDigit
	}
	return -1
}

// mayMatch reports whether s contains one of the rule's hints; lower
// caches strings.ToLower(s) between rules.
func (r *valueRule) mayMatch(s string, lower *string) bool {
	if len(r.hints) == 0 {
		return true
	}
	t := s
	if r.fold {
		if *lower == "" {
			*lower = strings.ToLower(s)
		}
		t = *lower
	}
	for _, h := range r.hints {
		if strings.Contains(t, h) {
			return true
		}
	}
	return false
}
