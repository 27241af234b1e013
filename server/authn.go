// SPDX-License-Identifier: Apache-2.0

package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// authenticate decides who the caller is and puts it in the request
// context. Without a tailnet it verifies the bearer token (accepted only
// in the Authorization header). With one, the remote address goes through
// WhoIs first: a peer the tailnet does not know is refused with 403
// (loopback only gets through with --allow-loopback, and then by token
// alone), and the auth mode says whether scopes come from the token, the
// tailnet policy, or both. Identity never comes from a request header.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote := r.RemoteAddr
		if len(r.Header.Values("Authorization")) > 1 {
			// Ambiguous: a proxy in front may act on the other one.
			reason := "two Authorization headers: send one, Authorization: Bearer <token>"
			s.auditAuthFailure(r, reason, nil)
			s.challenge(w, http.StatusBadRequest, "invalid_request", reason, "")
			return
		}
		if q := r.URL.Query(); q.Has("access_token") || q.Has("token") {
			s.auditAuthFailure(r, "token in URL query refused", nil)
			s.challenge(w, http.StatusUnauthorized, "invalid_request", "tokens are accepted only in the Authorization header", "")
			return
		}
		mode := tailnet.AuthToken
		var peer, via *tailnet.Peer // via: the fleet entry node that forwarded the call
		if s.tailnet != nil {
			p, err := s.tailnet.Identify(r.Context(), remote)
			switch {
			case err == nil:
				peer, mode = p, s.authMode
			case errors.Is(err, tailnet.ErrUnknownPeer) && s.allowLoopback && tailnet.IsLoopback(remote):
				// --allow-loopback: a local caller, by token alone.
			case errors.Is(err, tailnet.ErrUnknownPeer):
				reason := "unknown tailnet peer " + remote
				if tailnet.IsLoopback(remote) {
					reason = "loopback caller " + remote + " refused: not a tailnet peer (start with --allow-loopback to let local callers in by token)"
				}
				s.auditAuthFailure(r, reason, nil)
				forbid(w, "access_denied", reason)
				return
			default:
				s.log.Error("identifying tailnet caller", slog.String("remote_addr", remote), slog.Any("error", err))
				s.auditAuthFailure(r, "tailnet identity lookup failed", nil)
				forbid(w, "access_denied", "tailnet identity lookup failed")
				return
			}
			if r.Header.Get(tailnet.FleetCallerHeader) != "" {
				var reason string
				if peer, via, reason = s.forwardedFor(r, peer); reason != "" {
					s.auditAuthFailure(r, reason, via)
					forbid(w, "access_denied", reason)
					return
				}
				if peer == nil && mode != tailnet.AuthToken {
					reason = fmt.Sprintf("%s forwarded a call from a caller outside the tailnet, and this server (--auth %s) takes calls by token alone only from loopback", via.Name(), mode)
					s.auditAuthFailure(r, reason, via)
					forbid(w, "access_denied", reason)
					return
				}
			}
			if peer != nil {
				if reason := peer.Refusal(mode); reason != "" {
					s.auditAuthFailure(r, reason, peer)
					forbid(w, "access_denied", reason)
					return
				}
			}
		}
		var tok *auth.Caller
		if mode != tailnet.AuthTailscale {
			var reason string
			if tok, reason = s.verifyBearer(r); tok == nil {
				s.auditAuthFailure(r, reason, peer)
				s.challenge(w, http.StatusUnauthorized, "invalid_token", reason, "")
				return
			}
		}
		caller := tailnet.Caller(mode, peer, tok)
		caller.RemoteAddr = remote
		ctx := auth.WithCaller(r.Context(), caller)
		if via != nil {
			id := via.Identity
			caller.Via = &id
		}
		if s.fleet != nil && tok != nil {
			// A fleet entry node forwards the caller's own token; no
			// other code reads it, and nothing records it.
			ctx = auth.WithBearer(ctx, bearerToken(r))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// forwardedFor handles a request that a fleet entry node forwarded
// (tailnet.FleetCallerHeader): conn is the peer behind the connection,
// which must hold tailnet.FleetEntryCapability. It returns the caller the
// call is for, as this node's own WhoIs knows that address (nil for
// tailnet.FleetNoCaller), and the entry node; or why the request is
// refused.
func (s *Server) forwardedFor(r *http.Request, conn *tailnet.Peer) (caller, via *tailnet.Peer, refusal string) {
	hs := r.Header.Values(tailnet.FleetCallerHeader)
	switch {
	case conn == nil:
		return nil, nil, "a forwarded call (" + tailnet.FleetCallerHeader + ") must come from a fleet entry node on the tailnet"
	case !conn.FleetEntry:
		return nil, conn, fmt.Sprintf("node %s may not forward calls for other callers: the tailnet policy does not grant it %s",
			conn.Name(), tailnet.FleetEntryCapability)
	case conn.Package != tailnet.PackageTSNet:
		// A node whose tailscaled serves a whole host speaks for every
		// process and container there: any of them could name a caller.
		return nil, conn, fmt.Sprintf("node %s holds %s but is not a TailOps entry point with its own tsnet node (it reports Tailscale package %q): "+
			"a host's tailscaled carries any local process's traffic, so no node but a tsnet one may say whom a call is for",
			conn.Name(), tailnet.FleetEntryCapability, conn.Package)
	case len(hs) != 1:
		return nil, conn, "a forwarded call carries one " + tailnet.FleetCallerHeader + " header"
	case hs[0] == tailnet.FleetNoCaller:
		return nil, conn, ""
	}
	a, err := netip.ParseAddr(hs[0])
	if err != nil {
		return nil, conn, fmt.Sprintf("%s %q is not a tailnet address", tailnet.FleetCallerHeader, hs[0])
	}
	p, err := s.tailnet.Identify(r.Context(), netip.AddrPortFrom(a, 0).String())
	if err != nil {
		return nil, conn, fmt.Sprintf("%s forwarded a call from %s, which this node does not know as a tailnet peer", conn.Name(), a)
	}
	return p, conn, ""
}

// bearerToken is the request's bearer token, already verified.
func bearerToken(r *http.Request) string {
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok)
}

// bearerIn is the bearer token of an Authorization header in h: "" for
// none, or for another scheme.
func bearerIn(h http.Header) string {
	scheme, tok, _ := strings.Cut(h.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// verifyBearer verifies the request's bearer token; on failure it
// returns nil and why.
func (s *Server) verifyBearer(r *http.Request) (*auth.Caller, string) {
	h := r.Header.Get("Authorization")
	switch scheme, tok, _ := strings.Cut(h, " "); {
	case h == "":
		return nil, "missing token: send it as Authorization: Bearer <token>"
	case len(h) > maxAuthHeader:
		return nil, "Authorization header too long"
	case !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "":
		return nil, "Authorization scheme is not Bearer"
	case s.verifier == nil:
		return nil, "this server verifies no tokens"
	default:
		c, err := s.verifier.Verify(strings.TrimSpace(tok))
		if err != nil {
			return nil, "invalid token: " + err.Error()
		}
		return c, ""
	}
}

// checkHost refuses a request whose Host header is neither a loopback
// name nor one of the tailnet node's names and addresses: DNS rebinding
// protection for tailnet modes, where a browser on a tailnet device would
// otherwise carry its user's tailnet identity to the server for any page
// that rebinds its own name to the node's address.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if s.ownHost(host) {
			next.ServeHTTP(w, r)
			return
		}
		// Clipped like a foreign Origin: this runs before authentication,
		// and any peer may send a Host header of tens of KiB.
		reason := fmt.Sprintf("Host header %q is not a name or address of this server (DNS rebinding protection)", clip(r.Host, 200))
		s.auditAuthFailure(r, reason, nil)
		forbid(w, "invalid_request", reason)
	})
}

// resourceMetadataURL is where RFC 9728 metadata is served, or "".
func (s *Server) resourceMetadataURL() string {
	if len(s.authServers) == 0 || s.resource == "" {
		return ""
	}
	u, err := url.Parse(s.resource)
	if err != nil {
		return ""
	}
	p := u.Path
	if p == "/" {
		p = ""
	}
	return u.Scheme + "://" + u.Host + mcpserver.WellKnownProtectedResourcePath + p
}

// challenge writes a 401 or 403 with a WWW-Authenticate header (RFC 6750)
// and a JSON body; the description never contains the token.
func (s *Server) challenge(w http.ResponseWriter, status int, code, desc string, scope auth.Scope) {
	params := []string{fmt.Sprintf("error=%q", code), fmt.Sprintf("error_description=%q", desc)}
	if scope != "" {
		params = append(params, fmt.Sprintf("scope=%q", string(scope)))
	}
	if m := s.resourceMetadataURL(); m != "" {
		params = append(params, fmt.Sprintf("resource_metadata=%q", m))
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// forbid writes a 403 with a JSON body for a caller the tailnet layer
// or the Origin and Host checks refuse.
func forbid(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
