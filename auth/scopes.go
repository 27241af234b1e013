// SPDX-License-Identifier: Apache-2.0

// Package auth decides who a caller is and what it may do: bearer tokens
// (the original TailOpsMCP HMAC format and JWTs), the scope tree, and
// revocation.
package auth

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Scope is a permission a token or grant carries, such as "container:read".
type Scope string

// The scopes TailOps knows. Scope trees follow the original security model;
// unlike the original, every write or admin scope implies the read scopes
// beneath it.
const (
	ScopeAdmin          Scope = "admin"
	ScopeReadonly       Scope = "readonly"
	ScopeSystemAdmin    Scope = "system:admin"
	ScopeSystemRead     Scope = "system:read"
	ScopeDockerAdmin    Scope = "docker:admin"
	ScopeContainerAdmin Scope = "container:admin"
	ScopeContainerWrite Scope = "container:write"
	ScopeContainerRead  Scope = "container:read"
	ScopeFileWrite      Scope = "file:write"
	ScopeFileRead       Scope = "file:read"
	ScopeNetworkDiag    Scope = "network:diag"
	ScopeNetworkRead    Scope = "network:read"
	ScopeApprovalsGrant Scope = "approvals:grant"
	// ScopeSecurityWrite edits TailOps' own firewall table.
	ScopeSecurityWrite Scope = "security:write"
	// ScopeSecurityRead reads the host's firewall ruleset. readonly does
	// not hold it: the ruleset maps the host's exposure, so it is granted
	// by name (or through security:write or admin).
	ScopeSecurityRead Scope = "security:read"
	// ScopeSecurityScan scans files for leaked credentials (scan_secrets):
	// it learns where secrets are, so readonly does not hold it; admin
	// does.
	ScopeSecurityScan Scope = "security:scan"
	// ScopeMetricsRead reads /metrics; no tool requires it.
	ScopeMetricsRead Scope = "metrics:read"

	// ScopeAuthenticated is not a grantable scope: a tool that requires it
	// may be called by any authenticated caller (health_check).
	ScopeAuthenticated Scope = "authenticated"
)

// implies lists, for each scope, the scopes it directly contains.
var implies = map[Scope][]Scope{
	ScopeAdmin: {ScopeReadonly, ScopeSystemAdmin, ScopeDockerAdmin, ScopeContainerAdmin,
		ScopeFileWrite, ScopeNetworkDiag, ScopeApprovalsGrant, ScopeMetricsRead, ScopeSecurityWrite, ScopeSecurityScan},
	ScopeReadonly:       {ScopeSystemRead, ScopeNetworkRead, ScopeContainerRead, ScopeFileRead},
	ScopeSystemAdmin:    {ScopeSystemRead},
	ScopeDockerAdmin:    {ScopeContainerRead},
	ScopeContainerAdmin: {ScopeContainerWrite},
	ScopeContainerWrite: {ScopeContainerRead},
	ScopeFileWrite:      {ScopeFileRead},
	ScopeNetworkDiag:    {ScopeNetworkRead},
	ScopeSecurityWrite:  {ScopeSecurityRead},
	ScopeSecurityRead:   nil,
	ScopeSecurityScan:   nil,
	ScopeSystemRead:     nil,
	ScopeContainerRead:  nil,
	ScopeFileRead:       nil,
	ScopeNetworkRead:    nil,
	ScopeApprovalsGrant: nil,
	ScopeMetricsRead:    nil,
}

// Known returns every grantable scope, sorted.
func Known() []Scope {
	out := make([]Scope, 0, len(implies))
	for s := range implies {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Valid reports whether s is a grantable scope.
func (s Scope) Valid() bool {
	_, ok := implies[s]
	return ok
}

// Implied returns the scopes s directly contains in the tree.
func (s Scope) Implied() []Scope { return slices.Clone(implies[s]) }

// ParseScopes parses a comma- or space-separated scope list, refusing
// unknown scopes with an error that names them.
func ParseScopes(list string) ([]Scope, error) {
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
	return CheckScopes(fields)
}

// CheckScopes converts names to scopes, refusing unknown ones.
func CheckScopes(names []string) ([]Scope, error) {
	out := make([]Scope, 0, len(names))
	var bad []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		s := Scope(n)
		if !s.Valid() {
			bad = append(bad, fmt.Sprintf("%q", n))
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown scope %s (known: %s)", strings.Join(bad, ", "), joinScopes(Known()))
	}
	return out, nil
}

// Set is the closure of a list of scopes under the tree: every scope held,
// directly or by implication.
type Set map[Scope]bool

// Expand returns the closure of scopes under the scope tree.
func Expand(scopes []Scope) Set {
	set := Set{}
	var walk func(Scope)
	walk = func(s Scope) {
		if set[s] || !s.Valid() {
			return
		}
		set[s] = true
		for _, c := range implies[s] {
			walk(c)
		}
	}
	for _, s := range scopes {
		walk(s)
	}
	return set
}

// closures holds Expand's set for each grantable scope alone, so that
// Caller.Allows, which runs on every call, builds no set.
var closures = func() map[Scope]Set {
	m := make(map[Scope]Set, len(implies))
	for s := range implies {
		m[s] = Expand([]Scope{s})
	}
	return m
}()

// allows reports whether scopes permit req, as Expand(scopes).Allows(req)
// does.
func allows(scopes []Scope, req Scope) bool {
	if req == ScopeAuthenticated {
		return true
	}
	for _, s := range scopes {
		if closures[s][req] {
			return true
		}
	}
	return false
}

// Allows reports whether the set permits a tool that requires scope req.
func (set Set) Allows(req Scope) bool {
	if req == ScopeAuthenticated {
		return true
	}
	return set[req]
}

// Sorted returns the scopes in the set, sorted.
func (set Set) Sorted() []Scope {
	out := make([]Scope, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Intersect returns the scopes held by both sets.
func (set Set) Intersect(other Set) Set {
	out := Set{}
	for s := range set {
		if other[s] {
			out[s] = true
		}
	}
	return out
}

func joinScopes(ss []Scope) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
