// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"fmt"
	"net/http"

	"github.com/tailops/tailops/auth"
)

// Path is where the metrics are served, on either listener.
const Path = "/metrics"

// Refusal is why Guard refused a scrape: what the answer must say.
type Refusal struct {
	// Status is 401 (no authenticated caller) or 403 (a caller without
	// the scope).
	Status int
	// Code is the RFC 6750 error code: invalid_token or
	// insufficient_scope.
	Code string
	// Description says what is wrong and what to do, for people.
	Description string
	// Scope is the scope the request lacks; set on 403.
	Scope auth.Scope
}

// RefuseFunc answers a refused scrape; the server passes its own (the
// WWW-Authenticate challenge and audit record every other refusal gets).
type RefuseFunc func(w http.ResponseWriter, r *http.Request, why Refusal)

// Guard serves next only to callers holding auth.ScopeMetricsRead. It
// must sit behind the server's authentication, which puts the caller in
// the request's context (auth.WithCaller): without a caller the request
// is refused with 401 (fail closed), and a caller without the scope gets
// 403 insufficient_scope. refuse writes the answer; nil writes a plain
// RFC 6750 one.
func Guard(next http.Handler, refuse RefuseFunc) http.Handler {
	if refuse == nil {
		refuse = plainRefusal
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.CallerFrom(r.Context())
		switch {
		case c == nil:
			refuse(w, r, Refusal{Status: http.StatusUnauthorized, Code: "invalid_token",
				Description: "missing token: send it as Authorization: Bearer <token>"})
		case !c.Allows(auth.ScopeMetricsRead):
			refuse(w, r, Refusal{Status: http.StatusForbidden, Code: "insufficient_scope", Scope: auth.ScopeMetricsRead,
				Description: fmt.Sprintf("insufficient scope: %s requires %s (mint a token with: tailops token mint --scopes %[2]s)",
					Path, auth.ScopeMetricsRead)})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// plainRefusal answers with the RFC 6750 challenge and the description
// as text.
func plainRefusal(w http.ResponseWriter, _ *http.Request, why Refusal) {
	ch := fmt.Sprintf("Bearer error=%q, error_description=%q", why.Code, why.Description)
	if why.Scope != "" {
		ch += fmt.Sprintf(", scope=%q", string(why.Scope))
	}
	w.Header().Set("WWW-Authenticate", ch)
	http.Error(w, why.Description, why.Status)
}

// ListenerHandler is the whole of a metrics-only listener
// (--metrics-listen): GET (and HEAD) /metrics without authentication,
// 404 for every other path, 405 for other methods. Serve it only on
// loopback or an interface whose every client may read the metrics.
func (m *Metrics) ListenerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, m.Handler())
	return mux
}
