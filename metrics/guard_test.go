// SPDX-License-Identifier: Apache-2.0

package metrics_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
)

var secret = bytes.Repeat([]byte{7}, 32)

// bearer is a stand-in for the server's authentication middleware (which
// lives in the server package): it verifies the bearer token with a real
// auth.Verifier and puts the caller in the context, or answers 401.
func bearer(t *testing.T, next http.Handler) http.Handler {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "missing token", http.StatusUnauthorized)
			return
		}
		c, err := v.Verify(tok)
		if err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	})
}

func mint(t *testing.T, scopes ...auth.Scope) string {
	t.Helper()
	tok, err := auth.MintHMAC(secret, auth.Claims{Agent: "prometheus", Scopes: scopes, Expiry: time.Now().Add(time.Hour), ID: "jti-1"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGuardOnTheMainListener scrapes over real HTTP with tokens of every
// kind: only metrics:read (or admin, which implies it) gets the metrics;
// any other scope gets 403 insufficient_scope naming metrics:read.
func TestGuardOnTheMainListener(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	m.ToolCall("health_check", metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	srv := httptest.NewServer(bearer(t, metrics.Guard(m.Handler(), nil)))
	defer srv.Close()
	tests := []struct {
		name      string
		token     string
		status    int
		challenge string // in WWW-Authenticate
	}{
		{"metrics:read", mint(t, auth.ScopeMetricsRead), http.StatusOK, ""},
		{"admin implies metrics:read", mint(t, auth.ScopeAdmin), http.StatusOK, ""},
		{"metrics:read among others", mint(t, auth.ScopeContainerRead, auth.ScopeMetricsRead), http.StatusOK, ""},
		{"readonly", mint(t, auth.ScopeReadonly), http.StatusForbidden, `error="insufficient_scope"`},
		{"every scope but admin and metrics:read", mint(t, auth.ScopeReadonly, auth.ScopeSystemAdmin, auth.ScopeDockerAdmin,
			auth.ScopeContainerAdmin, auth.ScopeFileWrite, auth.ScopeNetworkDiag, auth.ScopeApprovalsGrant), http.StatusForbidden, `scope="metrics:read"`},
		{"no scopes", mint(t), http.StatusForbidden, `scope="metrics:read"`},
		{"no token", "", http.StatusUnauthorized, ""},
		{"a forged token", mint(t, auth.ScopeMetricsRead) + "00", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+metrics.Path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.challenge) {
				t.Errorf("WWW-Authenticate %q does not contain %q", ch, tt.challenge)
			}
			hasMetrics := bytes.Contains(body, []byte("tailops_tool_calls_total"))
			if hasMetrics != (tt.status == http.StatusOK) {
				t.Errorf("status %d and metrics in the body: %v\n%s", resp.StatusCode, hasMetrics, body)
			}
		})
	}
}

// TestGuardRefusals: Guard hands the server's refuse function what to
// answer, and fails closed when mounted without authentication.
func TestGuardRefusals(t *testing.T) {
	tests := []struct {
		name   string
		caller *auth.Caller
		want   metrics.Refusal
	}{
		{"no caller in the context (Guard mounted without authentication)", nil,
			metrics.Refusal{Status: http.StatusUnauthorized, Code: "invalid_token"}},
		{"a caller without the scope", &auth.Caller{Agent: "a", Scopes: []auth.Scope{auth.ScopeReadonly}},
			metrics.Refusal{Status: http.StatusForbidden, Code: "insufficient_scope", Scope: auth.ScopeMetricsRead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *metrics.Refusal
			served := false
			h := metrics.Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }),
				func(w http.ResponseWriter, r *http.Request, why metrics.Refusal) {
					got = &why
					w.WriteHeader(why.Status)
				})
			req := httptest.NewRequest(http.MethodGet, metrics.Path, nil)
			if tt.caller != nil {
				req = req.WithContext(auth.WithCaller(req.Context(), tt.caller))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if served {
				t.Fatal("the metrics were served")
			}
			if got == nil {
				t.Fatal("refuse was not called")
			}
			if got.Status != tt.want.Status || got.Code != tt.want.Code || got.Scope != tt.want.Scope || got.Description == "" {
				t.Errorf("refusal %+v, want %+v with a description", *got, tt.want)
			}
		})
	}
}

// TestListenerHandler: the metrics-only listener serves GET and HEAD
// /metrics without a token, and nothing else.
func TestListenerHandler(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	srv := httptest.NewServer(m.ListenerHandler())
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/metrics", http.StatusOK},
		{http.MethodHead, "/metrics", http.StatusOK},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodGet, "/mcp", http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/metrics/", http.StatusNotFound},
		{http.MethodGet, "/healthz", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusOK && tt.method == http.MethodGet {
				p := expfmt.NewTextParser(model.LegacyValidation)
				fams, err := p.TextToMetricFamilies(resp.Body)
				if err != nil || fams["tailops_build_info"] == nil {
					t.Errorf("no metrics (%v)", err)
				}
			}
		})
	}
}
