// SPDX-License-Identifier: Apache-2.0

// Package tailnet puts TailOps on a tailnet and tells it who is calling.
//
// # Modes
//
// In [ModeTSNet] the server is its own tailnet node through
// tailscale.com/tsnet: the Tailscale engine runs inside the process (no
// TUN device, no capabilities, no second daemon), so the kernel sandbox
// covers it too. In [ModeLocal] a host tailscaled is already running and
// the server asks it over its LocalAPI socket. [ModeOff] is no Tailscale
// at all.
//
// # Identity
//
// Every request's remote address goes through WhoIs ([Identifier]); the
// answer — login name, node, tags, addresses and the peer's capability map
// — is cached for a couple of seconds per connection ([WithConn]).
// Identity never comes from a request header.
//
// # Authorization
//
// Scopes can come from the tailnet policy: an app capability (default
// [DefaultCapability]) granted in the policy file's "grants", whose values
// are parsed by [auth.ScopesFromGrants]. For tailnets without grants
// (Headscale), an allow-list ([ParseAllow]) admits principals by login
// name or tag and may give them scopes. [AuthMode] says how those combine
// with bearer tokens; [Peer.Refusal] and [Caller] make the decision.
package tailnet

import (
	"fmt"
	"slices"
	"strings"

	"tailscale.com/tailcfg"

	"github.com/tailops/tailops/auth"
)

// Mode is how the server joins a tailnet (--tailnet).
type Mode string

// Tailnet modes.
const (
	// ModeOff is no Tailscale: loopback listener, token identity only.
	ModeOff Mode = "off"
	// ModeTSNet makes the server its own tailnet node with tsnet.
	ModeTSNet Mode = "tsnet"
	// ModeLocal uses the host's running tailscaled over its LocalAPI.
	ModeLocal Mode = "local"
)

// ParseMode parses a --tailnet value; "" is off.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeTSNet:
		if !TSNetBuilt {
			return "", errNoTSNet
		}
		return m, nil
	case ModeOff, ModeLocal:
		return m, nil
	case "":
		return ModeOff, nil
	}
	return "", fmt.Errorf("unknown tailnet mode %q (want off, tsnet or local)", s)
}

// AuthMode says where a tailnet caller's scopes come from (--auth).
type AuthMode string

// Authentication modes.
const (
	// AuthToken takes scopes from the bearer token; a tailnet caller's
	// identity is still looked up and recorded, and must be admitted.
	AuthToken AuthMode = "token"
	// AuthTailscale takes scopes from the tailnet policy (grants and the
	// allow-list); no token is needed.
	AuthTailscale AuthMode = "tailscale"
	// AuthBoth requires a valid token and a grant; the effective scopes
	// are the intersection of the two.
	AuthBoth AuthMode = "both"
)

// ParseAuthMode parses an --auth value; "" is token.
func ParseAuthMode(s string) (AuthMode, error) {
	switch m := AuthMode(s); m {
	case AuthToken, AuthTailscale, AuthBoth:
		return m, nil
	case "":
		return AuthToken, nil
	}
	return "", fmt.Errorf("unknown auth mode %q (want token, tailscale or both)", s)
}

// DefaultCapability is the app capability whose grants give TailOps scopes.
const DefaultCapability = "tailops.dev/cap/mcp"

// FleetEntryCapability is the app capability a fleet member requires of
// a node before it takes that node's word for which tailnet address a
// forwarded call came from (the node is then a fleet entry point). Its
// value is not read: any grant of it, {} say, is enough.
const FleetEntryCapability tailcfg.PeerCapability = "tailops.dev/cap/fleet-entry"

// PackageTSNet is the Tailscale package a tsnet node reports in its
// Hostinfo. A fleet member takes the word of an entry point only if it
// reports it: a node that is one program's own, not a host tailscaled
// that carries every local process's traffic.
const PackageTSNet = "tsnet"

// FleetCallerHeader carries, on a call a fleet entry node forwards to a
// member, the tailnet address of the caller it is for (or FleetNoCaller).
// A member takes it only from a node holding FleetEntryCapability, and
// refuses the request otherwise.
const FleetCallerHeader = "Tailops-Fleet-Caller"

// FleetNoCaller is FleetCallerHeader's value for a caller that is not a
// tailnet peer (a loopback caller with a token): the member then takes
// the call by token alone.
const FleetNoCaller = "none"

// VersionHeader is set on a TailOps server's /healthz answers to its
// version: how a fleet entry node tells TailOps members from other
// tagged nodes.
const VersionHeader = "Tailops-Version"

// Peer is what the tailnet says about one caller.
type Peer struct {
	// Identity is recorded in the audit log as the caller's "tailscale".
	Identity auth.TailscaleIdentity
	// NodeKey is the peer's current node key.
	NodeKey string
	// Tagged reports whether the node is tagged (owned by its tags, not
	// by a user).
	Tagged bool
	// GrantScopes are the union of the scopes of every well-formed rule
	// of the TailOps capability granted to the peer, sorted.
	GrantScopes []auth.Scope
	// Rejected are the grant rules that were ignored, with reasons.
	Rejected []auth.RejectedGrant
	// Admitted reports whether the allow-list admits the peer (always
	// true when there is no allow-list).
	Admitted bool
	// AllowScopes are the scopes the matching allow-list entries give.
	AllowScopes []auth.Scope
	// FleetEntry reports whether the tailnet policy grants the peer
	// FleetEntryCapability: a fleet member then lets it say which
	// tailnet address a call it forwards came from.
	FleetEntry bool
	// Package is how the peer's Tailscale was packaged, as its node
	// reports it: "tsnet" for a program that is its own tailnet node,
	// as a TailOps entry point is.
	Package string
}

// TailnetScopes are the scopes the tailnet policy gives the peer: its
// grants and its allow-list entries together, sorted.
func (p *Peer) TailnetScopes() []auth.Scope {
	out := slices.Clone(p.GrantScopes)
	for _, s := range p.AllowScopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Refusal says why p may not call in mode, or "" when it may go on (to
// token verification in token and both modes). A peer the allow-list
// does not admit is refused in every mode; in tailscale and both modes a
// peer without any scope from the tailnet policy is refused too: the
// policy is deny by default.
func (p *Peer) Refusal(mode AuthMode) string {
	if !p.Admitted {
		return "tailnet peer " + p.Name() + " is not on the allow-list (--ts-allow)"
	}
	if mode != AuthToken && len(p.TailnetScopes()) == 0 {
		why := "no grant of the TailOps capability"
		if len(p.Rejected) > 0 {
			why += fmt.Sprintf(" (%d malformed rule(s) ignored: %s)", len(p.Rejected), p.Rejected[0].Reason)
		}
		return "tailnet peer " + p.Name() + " has " + why
	}
	return ""
}

// Name names the peer for people and for the audit log's agent: its
// login name when a user owns the node, else the node's name.
func (p *Peer) Name() string {
	if p.Tagged || p.Identity.LoginName == "" {
		if p.Identity.NodeName != "" {
			return p.Identity.NodeName
		}
		return "node " + p.Identity.NodeID
	}
	return p.Identity.LoginName
}

// Caller builds the caller of one request in mode. peer is the tailnet
// caller (nil for a loopback request let in by --allow-loopback, which
// then authenticates by token alone); tok is the verified token caller,
// nil in tailscale mode. The result is a new Caller; tok is not changed.
//
//   - token: the token's agent and scopes, plus the peer's identity.
//   - tailscale: the peer's name as agent, the tailnet policy's scopes.
//   - both: the token's agent; the scopes held by both the token and the
//     tailnet policy, after expanding each through the scope tree.
func Caller(mode AuthMode, peer *Peer, tok *auth.Caller) *auth.Caller {
	if peer == nil {
		c := *tok
		return &c
	}
	id := peer.Identity
	id.Tags = slices.Clone(id.Tags)
	id.Addresses = slices.Clone(id.Addresses)
	switch mode {
	case AuthTailscale:
		return &auth.Caller{Agent: peer.Name(), Method: auth.MethodTailscale, Scopes: peer.TailnetScopes(), Tailscale: &id}
	case AuthBoth:
		c := *tok
		c.Scopes = auth.Expand(tok.Scopes).Intersect(auth.Expand(peer.TailnetScopes())).Sorted()
		c.Tailscale = &id
		return &c
	default:
		c := *tok
		c.Tailscale = &id
		return &c
	}
}

// cleanName drops the trailing dot of a fully qualified node name.
func cleanName(n string) string { return strings.TrimSuffix(n, ".") }
