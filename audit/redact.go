// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces every secret Redact removes.
const Redacted = "[REDACTED]"

// Redact returns a deep copy of v with secrets replaced by Redacted. Write
// applies it to every record; callers need not.
//
// Maps (map[string]any, and anything that encodes to a JSON object): the
// value of a sensitive key is replaced whole, unless it is null or a bool.
// A key is sensitive when, split into words at non-alphanumerics and
// camelCase boundaries, one of its words
//   - contains token, secret, passw (password, passwd), passphrase,
//     credential or cookie;
//   - contains auth but not author (auth, oauth, basicauth, authorization,
//     Proxy-Authorization; not author, authority, coauthor);
//   - ends in key or keys (key, api_key, apikey, privateKey, x-api-key,
//     ssh_keys; also monkey, a harmless false positive; not keyword,
//     keyboard, keyspace, where "key" starts a longer word);
//   - is pass or pwd.
//
// Strings, wherever they are (values, elements, keys, inside longer text
// such as a shell command): token-shaped substrings are replaced in place:
// PEM private key blocks, JWTs (eyJ….….…), TailOps HMAC tokens
// (base64url "." 64 hex), "Bearer <x>", Authorization/Cookie/X-Api-Key
// header values, tskey-…, ghp_/gho_/ghu_/ghs_/ghr_/github_pat_…, glpat-…,
// xoxb-/xoxp-/… Slack tokens, AKIA/ASIA AWS key ids, sk-… API keys,
// passwords in URLs (scheme://user:[REDACTED]@host), and the value in
// key=value or key: value text when the key is sensitive
// (--password=x, API_TOKEN=x, ?token=x, "secret":"x"). The rules err
// towards redacting: "wrong password: try again" loses "try".
//
// json.RawMessage is decoded, redacted and re-encoded; []byte holding UTF-8
// is redacted as a string. Other Go values are encoded to JSON and the
// decoded result redacted (so a struct comes back as map[string]any); a
// value JSON cannot encode becomes "[unencodable <type>]".
//
// Not caught: secrets with no recognisable shape under harmless keys (a
// random API key in {"args": "abc123…"}, "mysql -psecret"), and binary
// []byte, which JSON stores as base64.
func Redact(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return redactString(x)
	case bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, json.Number:
		return x
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rk := redactString(k)
			if rk != k || (sensitiveKey(k) && !harmless(e)) {
				out[rk] = Redacted
			} else {
				out[rk] = Redact(e)
			}
		}
		return out
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Redact(e)
		}
		return out
	case map[string]string:
		if x == nil {
			return x
		}
		out := make(map[string]string, len(x))
		for k, e := range x {
			rk := redactString(k)
			if rk != k || sensitiveKey(k) {
				out[rk] = Redacted
			} else {
				out[rk] = redactString(e)
			}
		}
		return out
	case []string:
		if x == nil {
			return x
		}
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = redactString(e)
		}
		return out
	case json.RawMessage:
		if x == nil {
			return x
		}
		d, ok := decodeJSON(x)
		if !ok {
			return redactString(string(x))
		}
		b, err := json.Marshal(Redact(d))
		if err != nil {
			return fmt.Sprintf("[unencodable %T]", v)
		}
		return json.RawMessage(b)
	case []byte:
		if x != nil && utf8.Valid(x) {
			return redactString(string(x))
		}
		return bytes.Clone(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("[unencodable %T]", v)
	}
	d, ok := decodeJSON(b)
	if !ok {
		return fmt.Sprintf("[unencodable %T]", v)
	}
	return Redact(d)
}

// decodeJSON decodes one JSON value, keeping numbers exact.
func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data
	}
	return v, true
}

// harmless reports whether the value of a sensitive key may be kept:
// null and booleans ("use_auth": true) cannot hold a secret.
func harmless(v any) bool {
	switch v.(type) {
	case nil, bool:
		return true
	}
	return false
}

// sensitiveKey reports whether a map key or key=value name names a
// secret; the rules are in Redact's documentation.
func sensitiveKey(k string) bool {
	for _, w := range keyWords(k) {
		switch {
		case strings.Contains(w, "token"), strings.Contains(w, "secret"),
			strings.Contains(w, "passw"), strings.Contains(w, "passphrase"),
			strings.Contains(w, "credential"), strings.Contains(w, "cookie"):
			return true
		case strings.Contains(w, "auth") && !strings.Contains(w, "author"),
			strings.Contains(w, "authoriz"):
			return true
		case strings.HasSuffix(w, "key"), strings.HasSuffix(w, "keys"):
			return true
		case w == "pass", w == "pwd":
			return true
		}
	}
	return false
}

// keyWords splits a key into lower-case words at non-alphanumerics and
// camelCase boundaries: "X-API-Key" → x api key, "privateKeyPEM" →
// private key pem, "APIKey" → api key.
func keyWords(k string) []string {
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

// valueRule replaces token-shaped substrings. hints are substrings one of
// which any match contains (compared case-insensitively when fold is set),
// so the regexp only runs on strings that may match.
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
		hints: []string{"xox"},
		re:    regexp.MustCompile(`\bxox[abeoprs]-[A-Za-z0-9-]+`),
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
	{ // scheme://user:password@host
		hints: []string{"://"},
		re:    regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'"]*):[^/\s@'"]+@`),
		repl:  "${1}:" + Redacted + "@",
	},
	{ // key=value, key: value, "key":"value" with a sensitive key.
		hints: []string{"=", ":"},
		fn:    redactKeyValues,
	},
}

// keySep matches the key and separator of key=value, key: value and
// "key":"value".
var keySep = regexp.MustCompile(`([A-Za-z0-9_.-]*[A-Za-z0-9])["']?\s*[=:]\s*`)

// redactKeyValues replaces the values of sensitive keys in key=value,
// key: value and "key":"value" text. A value is a quoted string, or runs to
// whitespace or one of "',;&?.
func redactKeyValues(s string) string {
	var b strings.Builder
	last := 0
	for _, ix := range keySep.FindAllStringSubmatchIndex(s, -1) {
		if ix[0] < last || !sensitiveKey(s[ix[2]:ix[3]]) {
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

// redactString replaces token-shaped substrings of s.
func redactString(s string) string {
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

// mayMatch reports whether s contains one of the rule's hints; lower
// caches strings.ToLower(s) between rules.
func (r *valueRule) mayMatch(s string, lower *string) bool {
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
