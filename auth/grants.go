// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// GrantRule is one value of the TailOps app capability in a tailnet
// policy's grants, such as
//
//	{"src": ["group:ops"], "dst": ["tag:tailops"],
//	 "app": {"tailops.dev/cap/mcp": [{"scopes": ["readonly", "container:write"]}]}}
//
// Each matching grant contributes its rules; WhoIs returns them all as
// the capability's values.
type GrantRule struct {
	// Scopes are the scopes the rule grants; each must be a known scope.
	Scopes []string `json:"scopes"`
}

// RejectedGrant is a grant rule that was ignored, and why.
type RejectedGrant struct {
	// Rule is the rule as received (cut to 200 bytes).
	Rule string
	// Reason says what is wrong with it.
	Reason string
}

// ScopesFromGrants parses the values of the TailOps app capability and
// returns the union of the scopes of every well-formed rule, sorted.
//
// A malformed rule is ignored as a whole and listed in rejected: a value
// that is not a JSON object, an unknown key (a typo such as "scope" must
// not pass silently), a missing or empty "scopes" list, or any unknown
// scope in it. Ignoring a rule can only take scopes away: a malformed
// rule never widens what the well-formed ones give.
func ScopesFromGrants(values []string) (scopes []Scope, rejected []RejectedGrant) {
	for _, v := range values {
		got, err := parseGrantRule(v)
		if err != nil {
			r := v
			if len(r) > 200 {
				r = r[:200] + "…"
			}
			rejected = append(rejected, RejectedGrant{Rule: r, Reason: err.Error()})
			continue
		}
		for _, s := range got {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	slices.Sort(scopes)
	return scopes, rejected
}

// parseGrantRule parses one rule strictly.
func parseGrantRule(v string) ([]Scope, error) {
	trimmed := strings.Trim(v, jsonSpace)
	if !strings.HasPrefix(trimmed, "{") {
		return nil, fmt.Errorf("not a JSON object")
	}
	if strings.Contains(trimmed, `\`) {
		// No key or scope name needs one, and "\u0073copes" would read
		// as scopes to the parser, not to a reviewer.
		return nil, fmt.Errorf(`parsing rule: an escape (\) in a rule`)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(trimmed)))
	dec.DisallowUnknownFields()
	var raw struct {
		Scopes *[]string `json:"scopes"`
	}
	if err := dec.Decode(&raw); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		return nil, fmt.Errorf("parsing rule: %s", msg)
	}
	if rest := strings.Trim(trimmed[dec.InputOffset():], jsonSpace); rest != "" {
		return nil, fmt.Errorf("parsing rule: %q after the JSON object", truncateRule(rest))
	}
	// encoding/json matches keys without case and keeps the last of two:
	// a rule must say "scopes", once, as a reviewer reads it.
	if err := exactKeys(trimmed, "scopes"); err != nil {
		return nil, fmt.Errorf("parsing rule: %w", err)
	}
	if raw.Scopes == nil {
		return nil, fmt.Errorf(`no "scopes" key`)
	}
	if len(*raw.Scopes) == 0 {
		return nil, fmt.Errorf(`empty "scopes" list`)
	}
	for _, n := range *raw.Scopes {
		if strings.TrimSpace(n) == "" {
			return nil, fmt.Errorf(`empty scope name in "scopes"`)
		}
	}
	return CheckScopes(*raw.Scopes)
}

// exactKeys checks that the JSON object obj has each of its keys once,
// each spelt as one of keys.
func exactKeys(obj string, keys ...string) error {
	dec := json.NewDecoder(strings.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		switch {
		case !slices.Contains(keys, k):
			return fmt.Errorf("unknown key %q", truncateRule(k))
		case seen[k]:
			return fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// jsonSpace is JSON's white space, and no other: a rule has no other
// around it.
const jsonSpace = " \t\r\n"

// truncateRule cuts s to 40 runes for an error message.
func truncateRule(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
