// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// bearer adds an Authorization header to every request.
type bearer struct {
	tok  string
	base http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.base.RoundTrip(r)
}

// sdkSession connects the official Go SDK client with tok.
func sdkSession(t *testing.T, url, tok string) *sdk.ClientSession {
	t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(ts []*sdk.Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func TestOfficialGoSDKListsAndCallsTools(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "monitor", auth.ScopeReadonly))
	ctx := context.Background()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := toolNames(lt.Tools)
	for _, want := range []string{"health_check", "get_system_status", "get_top_processes", "get_network_status",
		"get_network_io_counters", "get_active_connections"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}
	for _, tool := range lt.Tools {
		a := tool.Annotations
		if a == nil || a.DestructiveHint == nil || a.OpenWorldHint == nil || tool.OutputSchema == nil {
			t.Errorf("%s: annotations or output schema missing: %+v", tool.Name, a)
		}
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_system_status"})
	if err != nil || res.IsError {
		t.Fatalf("get_system_status: %v %+v", err, res)
	}
	st, _ := json.Marshal(res.StructuredContent)
	var status struct {
		Hostname string                 `json:"hostname"`
		Memory   struct{ Total uint64 } `json:"memory"`
	}
	json.Unmarshal(st, &status)
	host, _ := os.Hostname()
	if status.Hostname != host || status.Memory.Total == 0 {
		t.Errorf("structured content = %s", st)
	}
	if len(res.Content) == 0 || !strings.Contains(res.Content[0].(*sdk.TextContent).Text, host) {
		t.Errorf("text rendering lacks the hostname: %+v", res.Content)
	}
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_top_processes", Arguments: map[string]any{"limit": 3, "sort_by": "memory"}})
	if err != nil || res.IsError {
		t.Fatalf("get_top_processes: %v %+v", err, res)
	}
	var top TopProcessesOut
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &top)
	if len(top.Processes) != 3 || top.Processes[0].MemoryRSS < top.Processes[2].MemoryRSS {
		t.Errorf("top processes by memory = %s", b)
	}
}

// TopProcessesOut mirrors the tool's output for decoding.
type TopProcessesOut struct {
	Processes []struct {
		PID       int32  `json:"pid"`
		MemoryRSS uint64 `json:"memory_rss"`
	} `json:"processes"`
}

func TestInvalidArgumentsNameTheArgument(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "monitor", auth.ScopeReadonly))
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"limit": "ten"}, `"limit"`},
		{map[string]any{"limit": 500}, `"limit": must be between 1 and 100, got 500`},
		{map[string]any{"sort_by": "disk"}, `"sort_by"`},
		{map[string]any{"bogus": 1}, `'bogus' not allowed`},
	} {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_top_processes", Arguments: tc.args})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(*sdk.TextContent).Text
		if !res.IsError || !strings.Contains(text, tc.want) {
			t.Errorf("args %v: error=%v %q, want it to mention %s", tc.args, res.IsError, text, tc.want)
		}
	}
}

func TestOlderProtocolVersionsNegotiate(t *testing.T) {
	s := startServer(t)
	tok := s.token(t, "old-client", auth.ScopeReadonly)
	for _, v := range []string{"2025-03-26", "2025-06-18", "2025-11-25"} {
		if got := mcpgoHealthCheck(t, s.URL, tok, v); got != v {
			t.Errorf("asked for %s, got %s", v, got)
		}
	}
}

func TestToolsAreFilteredByScope(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "net-only", auth.ScopeNetworkRead))
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"get_active_connections", "get_network_io_counters", "get_network_status", "health_check"}
	if got := toolNames(lt.Tools); !slices.Equal(got, want) {
		t.Errorf("network:read sees %v, want %v", got, want)
	}
	// A call outside the scopes is refused with 403 insufficient_scope
	// naming the scope, and audited.
	tok := s.token(t, "net-only", auth.ScopeNetworkRead)
	sid, _ := s.initialize(t, tok, "2025-06-18")
	resp := s.rpc(t, tok, sid, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/call",
		"params": map[string]any{"name": "get_system_status", "arguments": map[string]any{"verbose": true, "password": "hunter2"}}})
	if resp.StatusCode != 403 {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	h := resp.Header.Get("WWW-Authenticate")
	if !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="system:read"`) {
		t.Errorf("WWW-Authenticate = %q", h)
	}
	recs := s.toolRecords(t)
	last := recs[len(recs)-1]
	if last["tool"] != "get_system_status" || last["decision"] != "denied" || !strings.Contains(fmt.Sprint(last["reason"]), "system:read") {
		t.Errorf("audit record = %v", last)
	}
	// The refused call's arguments are in the record, the secret redacted.
	if args, _ := last["arguments"].(map[string]any); args["verbose"] != true || args["password"] == nil || args["password"] == "hunter2" {
		t.Errorf("audit record arguments = %v", last["arguments"])
	}
}

func TestReadOnlyAndToolLists(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tools", "health_check,get_system_status"}, []string{"get_system_status", "health_check"}},
		{[]string{"--disable-tools", "get_active_connections", "--tools", "health_check,get_active_connections"}, []string{"health_check"}},
	} {
		s := startServer(t, tc.args...)
		cs := sdkSession(t, s.URL, s.token(t, "admin", auth.ScopeAdmin))
		lt, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := toolNames(lt.Tools); !slices.Equal(got, tc.want) {
			t.Errorf("%v: tools %v, want %v", tc.args, got, tc.want)
		}
	}
}

// forged builds attack tokens against a server whose secret is secret.
func TestAuthAttacksAreRefused(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	jwksPath := dir + "/jwks.json"
	writeJWKS(t, jwksPath, &rsaKey.PublicKey, &ecKey.PublicKey)
	cfgPath := dir + "/config.hujson"
	os.WriteFile(cfgPath, []byte(`{
		// revoked by token id and by agent
		"revoked": {"token_ids": ["revoked-id"], "agents": ["fired"]},
	}`), 0o600)
	s := startServer(t, "--jwks-file", jwksPath, "--resource-url", "https://tailops.example/mcp", "--config", cfgPath,
		"--authorization-server", "https://idp.example")
	now := time.Now()
	good := s.token(t, "ok", auth.ScopeReadonly)
	hs := func(secret []byte, claims jwt.MapClaims) string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		return tok
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "bot", "scope": "readonly", "aud": "https://tailops.example/mcp",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	none := func() string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return tok
	}()
	withClaim := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	expiredHMAC, err := auth.MintHMAC(s.Secret, auth.Claims{Agent: "old", Scopes: []auth.Scope{auth.ScopeReadonly}, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	revokedHMAC, _ := auth.MintHMAC(s.Secret, auth.Claims{Agent: "x", ID: "revoked-id", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: now.Add(time.Hour)})
	firedHMAC := s.token(t, "fired", auth.ScopeReadonly)
	parts := strings.SplitN(good, ".", 2)
	tampered := parts[0] + "." + strings.Repeat("0", 64)
	widened := func() string {
		c, _ := json.Marshal(map[string]any{"agent": "ok", "scopes": []string{"admin"}, "expiry": now.Add(time.Hour).UTC().Format(time.RFC3339)})
		return b64(c) + "." + parts[1]
	}()
	rsSign := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "rsa"
		s, _ := tok.SignedString(rsaKey)
		return s
	}
	rs, rsWrongAud := rsSign(base()), rsSign(withClaim("aud", "https://other.example"))
	for _, tok := range []string{tampered, widened, none, expiredHMAC, revokedHMAC, firedHMAC, rs, rsWrongAud} {
		if tok == "" {
			t.Fatal("an attack token could not be built")
		}
	}
	for _, tc := range []struct{ name, tok string }{
		{"no token", ""},
		{"tampered signature", tampered},
		{"widened scopes, old signature", widened},
		{"alg none", none},
		{"HS256 signed with the RSA public key PEM", hs(pubPEM, base())},
		{"HS256 signed with the RSA public key DER", hs(pubDER, base())},
		{"expired HMAC", expiredHMAC},
		{"expired JWT", hs(s.Secret, withClaim("exp", now.Add(-time.Hour).Unix()))},
		{"not yet valid", hs(s.Secret, withClaim("nbf", now.Add(time.Hour).Unix()))},
		{"wrong audience", rsWrongAud},
		{"revoked by token id", revokedHMAC},
		{"revoked by agent", firedHMAC},
		{"oversized", strings.Repeat("a", 9000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.rpc(t, tc.tok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
			if resp.StatusCode != 401 {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			h := resp.Header.Get("WWW-Authenticate")
			if !strings.Contains(h, `error="invalid_token"`) ||
				!strings.Contains(h, `resource_metadata="https://tailops.example/.well-known/oauth-protected-resource/mcp"`) {
				t.Errorf("WWW-Authenticate = %q", h)
			}
			if tc.tok != "" && strings.Contains(h, tc.tok) {
				t.Errorf("challenge echoes the token")
			}
		})
	}
	t.Run("token in URL query", func(t *testing.T) {
		resp, err := http.Post(s.URL+"/mcp?access_token="+good, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("valid RS256 from JWKS is accepted", func(t *testing.T) {
		sid, _ := s.initialize(t, rs, "2025-06-18")
		if sid == "" {
			t.Error("no session")
		}
	})
	// No attack token appears in the logs or the audit log.
	logs := s.Logs.String()
	auditBytes, _ := os.ReadFile(s.AuditLog)
	for i, secret := range []string{tampered, widened, none, expiredHMAC, revokedHMAC, firedHMAC, good, rs, string(s.Secret)} {
		if strings.Contains(logs, secret) || strings.Contains(string(auditBytes), secret) {
			t.Errorf("secret %d reached the logs (%v) or the audit log (%v)", i, strings.Contains(logs, secret), strings.Contains(string(auditBytes), secret))
		}
	}
	resp, err := http.Get(s.URL + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if meta["resource"] != "https://tailops.example/mcp" {
		t.Errorf("RFC 9728 metadata = %v", meta)
	}
}

func TestOversizedHeaderIsRefused(t *testing.T) {
	s := startServer(t)
	req, _ := http.NewRequest("POST", s.URL+"/mcp", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 431 && resp.StatusCode != 401 {
		t.Errorf("status %d, want 431 or 401", resp.StatusCode)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := startServer(t)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\nWARNING: "} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(b), want) {
			t.Errorf("%s: %d %q, want prefix %q", path, resp.StatusCode, b, want)
		}
	}
}

func TestEveryCallPathIsAuditedOnce(t *testing.T) {
	s := startServer(t, "--disable-tools", "get_active_connections", "--file-root", t.TempDir())
	tok := s.token(t, "auditor", auth.ScopeReadonly)
	cs := sdkSession(t, s.URL, tok)
	ctx := context.Background()
	calls := []struct {
		name   string
		args   map[string]any
		result string
		reason string
	}{
		{"health_check", nil, "success", ""},
		{"get_top_processes", map[string]any{"limit": 1000}, "error", ""}, // the handler checks the range
		{"get_top_processes", map[string]any{"password": "hunter2-very-secret"}, "denied", "invalid arguments: "},
		{"read_file", map[string]any{"path": "missing.log"}, "error", ""}, // fails in the handler
		{"no_such_tool", nil, "denied", "unknown tool"},
		{"get_active_connections", nil, "denied", "disabled"},
		{"start_container", map[string]any{"container": "web"}, "denied", "container:write"}, // outside the token's scopes
	}
	for _, c := range calls {
		cs.CallTool(ctx, &sdk.CallToolParams{Name: c.name, Arguments: c.args})
	}
	recs := s.toolRecords(t)
	if len(recs) != len(calls) {
		t.Fatalf("%d records for %d calls: %v", len(recs), len(calls), recs)
	}
	for i, c := range calls {
		r := recs[i]
		caller, _ := r["caller"].(map[string]any)
		if r["tool"] != c.name || r["result"] != c.result || !strings.Contains(fmt.Sprint(r["reason"]), c.reason) ||
			caller["agent"] != "auditor" || caller["auth_method"] != "hmac" {
			t.Errorf("record %d = %v, want tool %s result %s", i, r, c.name, c.result)
		}
	}
	b, _ := os.ReadFile(s.AuditLog)
	if strings.Contains(string(b), "hunter2-very-secret") {
		t.Error("a password argument reached the audit log")
	}
	if n, problem, err := audit.Verify(s.AuditLog); err != nil || problem != nil || n != len(calls)+1 {
		t.Errorf("verify: %d %v %v", n, problem, err)
	}
}

// TestJWKSWithoutResourceURLWarns: with keys for JWTs but no
// --resource-url, which JWTs must name as their audience, the server
// warns at start that a token for any audience is accepted; with it, it
// does not.
func TestJWKSWithoutResourceURLWarns(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwksPath := t.TempDir() + "/jwks.json"
	writeJWKS(t, jwksPath, &rsaKey.PublicKey, &ecKey.PublicKey)
	const warning = "accepted whatever their audience"
	if s := startServer(t, "--jwks-file", jwksPath); !strings.Contains(s.Logs.String(), warning) {
		t.Errorf("no warning without --resource-url:\n%s", s.Logs)
	}
	if s := startServer(t, "--jwks-file", jwksPath, "--resource-url", "https://tailops.example/mcp"); strings.Contains(s.Logs.String(), warning) {
		t.Errorf("a warning with --resource-url:\n%s", s.Logs)
	}
}
