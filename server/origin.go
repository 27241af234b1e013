// SPDX-License-Identifier: Apache-2.0

package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// ownHost reports whether host (a Host header's or an origin's host,
// without port) names this server: a loopback name or address, or, with
// a tailnet, one of the node's names and addresses or --resource-url's
// host.
func (s *Server) ownHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	ip, err := netip.ParseAddr(host)
	return s.hosts[host] || host == "localhost" || (err == nil && ip.Unmap().IsLoopback())
}

// checkOrigin refuses with 403, before authentication, a request a
// browser sent from a page that is not this server's (MCP's streamable
// HTTP transport requires it since 2025-11-25): otherwise any web page a
// user opens could call the server with what the browser holds for it —
// on a tailnet, the user's tailnet identity. A request without Origin
// (every non-browser client) goes through, unless its Sec-Fetch-Site says
// a browser sent it from another site. This server's origins are its own
// names (see ownHost, and --resource-url's host) with the port the request
// came in on, and --resource-url's origin (a reverse proxy in front).
//
// net/http's CrossOriginProtection is not used: it lets GET, HEAD and
// OPTIONS through whatever their origin, where the transport's rule
// covers every request (GET opens an event stream), and it trusts
// whatever Host the request names.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	var res *url.URL
	if u, err := url.Parse(s.resource); err == nil && u.Host != "" {
		res = u
	}
	own := func(r *http.Request, origin string) bool {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return false
		}
		port, resHost := portOr(u.Port(), u.Scheme), res != nil && strings.EqualFold(u.Hostname(), res.Hostname())
		if resHost && u.Scheme == res.Scheme && port == portOr(res.Port(), res.Scheme) {
			return true // --resource-url's origin
		}
		scheme := "http" // how the request reached this server
		if r.TLS != nil {
			scheme = "https"
		}
		return (s.ownHost(u.Hostname()) || resHost) && port == portOr(hostPort(r.Host), scheme)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origins := r.Header.Values("Origin")
		var reason string
		switch {
		case len(origins) > 1:
			reason = "two Origin headers: the request's origin is not this server's"
		case len(origins) == 1 && !own(r, origins[0]):
			reason = fmt.Sprintf("Origin %q is not this server's: web pages of other origins may not call it", clip(origins[0], 200))
		case len(origins) == 0 && (r.Header.Get("Sec-Fetch-Site") == "cross-site" || r.Header.Get("Sec-Fetch-Site") == "same-site"):
			reason = "a browser request from another site (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") +
				", no Origin) is not this server's: web pages of other origins may not call it"
		default:
			next.ServeHTTP(w, r)
			return
		}
		s.auditAuthFailure(r, reason, nil)
		forbid(w, "invalid_request", reason)
	})
}

// hostPort is the port in a Host header, or "".
func hostPort(host string) string {
	if _, p, err := net.SplitHostPort(host); err == nil {
		return p
	}
	return ""
}

// portOr is port, or the default port of scheme when port is "".
func portOr(port, scheme string) string {
	if port != "" {
		return port
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
