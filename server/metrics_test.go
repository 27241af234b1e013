// SPDX-License-Identifier: Apache-2.0

package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/tools"
)

// TestMetricsEndpoint: /metrics answers only a caller with metrics:read
// (401 without a token, 403 with another scope, both audited); a real
// tools/call, allowed or refused, moves the call counters the server
// serves.
func TestMetricsEndpoint(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "audit.log")
	m := metrics.New(metrics.Options{Tools: []string{"see", "admin_see"}, NoRuntime: true})
	l, err := audit.Open(logPath, &audit.Options{Observe: m.AuditWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: l, Verifier: v, Metrics: m,
		Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly), readTool("admin_see", auth.ScopeAdmin)}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	token := func(scopes ...auth.Scope) string {
		tok, err := auth.MintHMAC(secret, auth.Claims{Agent: "scraper", Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	scrape := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", hs.URL+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := scrape(""); code != 401 {
		t.Errorf("scrape without a token: %d, want 401", code)
	}
	if code, _ := scrape(token(auth.ScopeReadonly)); code != 403 {
		t.Errorf("scrape with readonly: %d, want 403", code)
	}
	c, err := client.NewStreamableHttpClient(hs.URL+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token(auth.ScopeReadonly)}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(t.Context(), mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "see"
	if _, err := c.CallTool(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	req.Params.Name = "admin_see"
	c.CallTool(t.Context(), req) // refused before MCP: 403 insufficient_scope
	code, body := scrape(token(auth.ScopeMetricsRead))
	if code != 200 {
		t.Fatalf("scrape with metrics:read: %d %s", code, body)
	}
	for _, want := range []string{
		`tailops_tool_calls_total{decision="allowed",result="success",tool="see"} 1`,
		`tailops_tool_calls_total{decision="denied",result="denied",tool="admin_see"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s:\n%s", want, body)
		}
	}
	var refused int
	for _, r := range readAuditLog(t, logPath) {
		if r["event"] == string(audit.EventAuthDenied) { // the missing token, and the scope
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refused scrapes audited, want 2", refused)
	}
}
