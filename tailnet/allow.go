// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tailops/tailops/auth"
)

// AllowEntry is one entry of the allow-list (--ts-allow), for tailnets
// without grants such as Headscale.
type AllowEntry struct {
	// Principal is "tag:NAME", which matches a node carrying that tag, or
	// a login name ("alice@example.com"; "alice" on Headscale), which
	// matches the user's own (untagged) nodes.
	Principal string
	// Scopes are given to a matching peer in tailscale and both modes;
	// empty means the entry only admits the peer (its scopes then come
	// from a token, or from grants).
	Scopes []auth.Scope
}

// ParseAllow parses allow-list entries: "tag:ops", "alice@example.com"
// (Headscale's login names may lack the domain: "alice"), optionally followed by "=" and scopes joined by "+", as in
// "tag:ops=readonly+container:write". Unknown scopes, groups and
// malformed principals are refused.
func ParseAllow(entries []string) ([]AllowEntry, error) {
	var out []AllowEntry
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		principal, scopeList, hasScopes := strings.Cut(e, "=")
		principal = strings.TrimSpace(principal)
		switch {
		case strings.HasPrefix(principal, "tag:"):
			if len(principal) == len("tag:") || strings.ContainsAny(principal, " \t,@") {
				return nil, fmt.Errorf("--ts-allow %q: malformed tag", e)
			}
		case strings.HasPrefix(principal, "group:") || strings.HasPrefix(principal, "autogroup:"):
			return nil, fmt.Errorf("--ts-allow %q: groups live in the tailnet policy; grant the capability to the group there instead", e)
		case principal == "" || strings.HasPrefix(principal, "@") || strings.ContainsAny(principal, " \t,*:"):
			return nil, fmt.Errorf("--ts-allow %q: want tag:NAME or a login name such as alice@example.com (or alice on Headscale)", e)
		}
		entry := AllowEntry{Principal: principal}
		if hasScopes {
			s, err := auth.CheckScopes(strings.Split(scopeList, "+"))
			if err != nil {
				return nil, fmt.Errorf("--ts-allow %q: %w", e, err)
			}
			if len(s) == 0 {
				return nil, fmt.Errorf("--ts-allow %q: no scopes after =", e)
			}
			entry.Scopes = s
		}
		out = append(out, entry)
	}
	return out, nil
}

// Matches reports whether the entry matches p. A login name never
// matches a tagged node: a tagged node belongs to its tags, not to the
// user who tagged it.
func (e AllowEntry) Matches(p *Peer) bool {
	if strings.HasPrefix(e.Principal, "tag:") {
		return slices.Contains(p.Identity.Tags, e.Principal)
	}
	return !p.Tagged && strings.EqualFold(e.Principal, p.Identity.LoginName)
}

// String returns the entry as --ts-allow takes it.
func (e AllowEntry) String() string {
	if len(e.Scopes) == 0 {
		return e.Principal
	}
	names := make([]string, len(e.Scopes))
	for i, s := range e.Scopes {
		names[i] = string(s)
	}
	return e.Principal + "=" + strings.Join(names, "+")
}

// admit reports whether the allow-list admits p (an empty list admits
// everyone) and the union of the matching entries' scopes, sorted.
func admit(list []AllowEntry, p *Peer) (bool, []auth.Scope) {
	if len(list) == 0 {
		return true, nil
	}
	ok := false
	var scopes []auth.Scope
	for _, e := range list {
		if !e.Matches(p) {
			continue
		}
		ok = true
		for _, s := range e.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	slices.Sort(scopes)
	return ok, scopes
}
