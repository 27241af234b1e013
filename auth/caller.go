// SPDX-License-Identifier: Apache-2.0

package auth

import "context"

// Method names how a caller authenticated.
type Method string

// Authentication methods recorded in the audit log.
const (
	MethodHMAC      Method = "hmac"
	MethodJWT       Method = "jwt"
	MethodStdio     Method = "stdio"
	MethodTailscale Method = "tailscale"
)

// Caller is the authenticated principal behind one request.
type Caller struct {
	// Agent is the token's agent (HMAC) or subject (JWT), or stdio:<user>.
	Agent string `json:"agent"`
	// TokenID is the token's jti; empty for stdio and legacy tokens without one.
	TokenID string `json:"token_id,omitempty"`
	// Method is how the caller authenticated.
	Method Method `json:"auth_method"`
	// Scopes are the scopes as granted (before expansion).
	Scopes []Scope `json:"scopes"`
	// RemoteAddr is the peer's address; empty for stdio.
	RemoteAddr string `json:"remote_addr,omitempty"`
	// Tailscale is the caller's tailnet identity from WhoIs; nil when the
	// tailnet layer is off.
	Tailscale *TailscaleIdentity `json:"tailscale"`
	// Via is the fleet entry node that forwarded the call, from WhoIs of
	// the connection; nil for a call made directly.
	Via *TailscaleIdentity `json:"via,omitempty"`
}

// TailscaleIdentity is what WhoIs says about a tailnet peer.
type TailscaleIdentity struct {
	LoginName   string   `json:"login_name,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	NodeName    string   `json:"node_name,omitempty"`
	NodeID      string   `json:"node_id,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Addresses   []string `json:"addresses,omitempty"`
}

// Allows reports whether the caller's scopes permit req.
func (c *Caller) Allows(req Scope) bool {
	if c == nil {
		return false
	}
	return allows(c.Scopes, req)
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

type bearerKey struct{}

// WithBearer returns a context carrying the bearer token the caller
// authenticated with, for a fleet entry node to forward; it is never
// logged or recorded.
func WithBearer(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, bearerKey{}, tok)
}

// BearerFrom returns the bearer token stored in ctx, or "".
func BearerFrom(ctx context.Context) string {
	tok, _ := ctx.Value(bearerKey{}).(string)
	return tok
}

// CallerFrom returns the caller stored in ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
