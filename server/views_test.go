// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// echoTool is a read-only tool of scope that answers its id argument
// (and fails for id "bad").
func echoTool(name string, scope auth.Scope) tools.Spec {
	s := readTool(name, scope)
	s.Tool = mcp.NewTool(name, mcp.WithDescription("test tool "+name), mcp.WithString("id", mcp.Required(), mcp.Pattern("^[a-z-]+$")),
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true), mcp.WithOpenWorldHintAnnotation(false))
	s.Handler = func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		id := req.GetString("id", "")
		if id == "bad" {
			return mcp.NewToolResultError("no thing called bad"), nil
		}
		return mcp.NewToolResultText(name + " read " + id), nil
	}
	return s
}

// TestResourceViews: a view of a read-only tool is listed (as a resource,
// or as a template when it has variables) and read only for callers that
// may call the tool; the read runs the tool with the URI's variables as
// arguments, checked against the tool's schema, and is recorded as a
// resource_read naming the URI and the arguments; a tool error is the
// read's error; a view of a tool this server does not serve is not
// offered; a call that would wait for approval is refused as a read.
func TestResourceViews(t *testing.T) {
	id := func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }
	gated := echoTool("gated", auth.ScopeReadonly)
	gated.ApprovalFor = func(any) bool { return true } // as http_request_test off its allow-list
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{readTool("status", auth.ScopeReadonly), echoTool("thing", auth.ScopeReadonly), echoTool("secret", auth.ScopeAdmin), gated},
		Views: []tools.ResourceView{
			{URI: "test://status", Name: "status", Description: "d", MIMEType: "text/plain", Tool: "status"},
			{URI: "test://things/{id}", Name: "things", Description: "d", MIMEType: "text/plain", Tool: "thing", Args: id},
			{URI: "test://secrets/{id}", Name: "secrets", Description: "d", MIMEType: "text/plain", Tool: "secret", Args: id},
			{URI: "test://off/{id}", Name: "off", Description: "d", MIMEType: "text/plain", Tool: "not_served", Args: id},
			{URI: "test://gated/{id}", Name: "gated", Description: "d", MIMEType: "text/plain", Tool: "gated", Args: id},
		},
	})
	for _, stdio := range []bool{false, true} {
		for _, scope := range []auth.Scope{auth.ScopeReadonly, auth.ScopeAdmin} {
			t.Run(fmt.Sprintf("stdio=%v/%s", stdio, scope), func(t *testing.T) {
				c := cs.client(t, stdio, fmt.Sprintf("views-%v-%s", stdio, scope), scope)
				admin := scope == auth.ScopeAdmin
				rs, err := c.ListResources(t.Context(), mcp.ListResourcesRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if len(rs.Resources) != 1 || rs.Resources[0].URI != "test://status" {
					t.Errorf("resources %v, want test://status", rs.Resources)
				}
				ts, err := c.ListResourceTemplates(t.Context(), mcp.ListResourceTemplatesRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, x := range ts.ResourceTemplates {
					got = append(got, x.URITemplate.Raw())
				}
				want := []string{"test://things/{id}", "test://gated/{id}"}
				if admin {
					want = append(want, "test://secrets/{id}")
				}
				if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Errorf("templates %v, want %v", got, want)
				}
				if text, err := readText(t, c, "test://things/web-one"); err != nil || text != "thing read web-one" {
					t.Errorf("read a thing: %q, %v", text, err)
				}
				if text, err := readText(t, c, "test://status"); err != nil || text != "status ran" {
					t.Errorf("read the status: %q, %v", text, err)
				}
				if _, err := readText(t, c, "test://things/bad"); err == nil || !strings.Contains(err.Error(), "no thing called bad") {
					t.Errorf("a tool error: %v", err)
				}
				if _, err := readText(t, c, "test://things/NOT_OK"); err == nil || !strings.Contains(err.Error(), "invalid resource URI") {
					t.Errorf("an argument the tool's schema refuses: %v", err)
				}
				text, err := readText(t, c, "test://secrets/key")
				if admin != (err == nil) || admin && text != "secret read key" {
					t.Errorf("read a secret as %s: %q, %v", scope, text, err)
				}
				if !admin && stdio && !strings.Contains(fmt.Sprint(err), "resource test://secrets/key is read with tool secret: insufficient scope") {
					t.Errorf("the refusal does not name the tool: %v", err)
				}
				if !admin && !stdio && !strings.Contains(fmt.Sprint(err), "insufficient_scope") {
					t.Errorf("over HTTP a missing scope is a 403 insufficient_scope: %v", err)
				}
				if _, err := readText(t, c, "test://gated/x"); err == nil || !strings.Contains(err.Error(), "needs approval here: call it as a tool") {
					t.Errorf("a view of a call that needs approval: %v; want a refusal", err)
				}
				if _, err := readText(t, c, "test://off/x"); err == nil {
					t.Error("a view of a tool the server does not serve was read")
				}
			})
		}
	}
	var reads []map[string]any
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] == string(audit.EventResourceRead) && r["resource"] == "test://things/web-one" {
			reads = append(reads, r)
		}
	}
	if len(reads) != 4 || fmt.Sprint(reads[0]["arguments"]) != "map[id:web-one]" || reads[0]["result"] != string(audit.ResultSuccess) {
		t.Errorf("resource_read records of test://things/web-one: %v; want 4 successes with the tool's arguments", reads)
	}
}

// TestResourceViewOfAWriteToolIsRefused: only read-only, non-critical
// tools can be read as resources.
func TestResourceViewOfAWriteToolIsRefused(t *testing.T) {
	w := readTool("write", auth.ScopeAdmin)
	w.Tool.Annotations.ReadOnlyHint = mcp.ToBoolPtr(false)
	w.Tool.Annotations.DestructiveHint = mcp.ToBoolPtr(true)
	w.Risk = tools.RiskHigh
	_, err := New(Config{Audit: &audit.Log{}, Enabled: []tools.Spec{w},
		Views: []tools.ResourceView{{URI: "test://w", Name: "w", Description: "d", Tool: "write"}}})
	if err == nil || !strings.Contains(err.Error(), "not read-only") {
		t.Errorf("New: %v, want a refusal of the view", err)
	}
}

// TestListCacheHints: on 2026-07-28, list results say a client may reuse
// them for a minute, for this caller only (they are filtered by its
// scopes); reads are live; earlier revisions get no hints.
func TestListCacheHints(t *testing.T) {
	cs := startChokeServer(t)
	c := cs.client(t, false, "hints", auth.ScopeReadonly)
	ts, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ts.TTLMs == nil || *ts.TTLMs != 60_000 || ts.CacheScope != mcp.CacheScopePrivate {
		t.Errorf("tools/list hints: ttl %v, scope %q; want 60000 ms, private", ts.TTLMs, ts.CacheScope)
	}
	ps, err := c.ListPrompts(t.Context(), mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ps.TTLMs == nil || *ps.TTLMs != 60_000 || ps.CacheScope != mcp.CacheScopePrivate {
		t.Errorf("prompts/list hints: ttl %v, scope %q", ps.TTLMs, ps.CacheScope)
	}
	r := mcp.ReadResourceRequest{}
	r.Params.URI = "tailops://test/public"
	rr, err := c.ReadResource(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if rr.TTLMs == nil || *rr.TTLMs != 0 || rr.CacheScope != mcp.CacheScopePrivate {
		t.Errorf("resources/read hints: ttl %v, scope %q; want 0, private", rr.TTLMs, rr.CacheScope)
	}
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "legacy", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := client.NewStreamableHttpClient(cs.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { legacy.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = "2025-11-25"
	if r, err := legacy.Initialize(t.Context(), init); err != nil || r.ProtocolVersion != "2025-11-25" {
		t.Fatalf("initialize on 2025-11-25: %+v, %v", r, err)
	}
	lts, err := legacy.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil || lts.TTLMs != nil || lts.CacheScope != "" {
		t.Errorf("tools/list on 2025-11-25: ttl %v, scope %q, %v; want no hints", lts.TTLMs, lts.CacheScope, err)
	}
}

// TestResourceViewFields: a JSON view that names fields of its tool's
// structured result shows those and nothing else of it; a view that names
// none shows the whole result.
func TestResourceViewFields(t *testing.T) {
	full := readTool("full", auth.ScopeReadonly)
	full.Handler = func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultStructured(map[string]any{"id": "c1", "state": map[string]any{"status": "running"}, "env": []string{"A=1"}}, "text"), nil
	}
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{full},
		Views: []tools.ResourceView{
			{URI: "test://part", Name: "part", Description: "d", MIMEType: "application/json", Tool: "full", Fields: []string{"id", "state", "absent"}},
			{URI: "test://all", Name: "all", Description: "d", MIMEType: "application/json", Tool: "full"},
		},
	})
	c := cs.client(t, false, "fields", auth.ScopeReadonly)
	for _, tc := range []struct{ uri, want string }{
		{"test://part", `{"id":"c1","state":{"status":"running"}}`},
		{"test://all", `{"env":["A=1"],"id":"c1","state":{"status":"running"}}`},
	} {
		r := mcp.ReadResourceRequest{}
		r.Params.URI = tc.uri
		res, err := c.ReadResource(t.Context(), r)
		if err != nil {
			t.Fatalf("read %s: %v", tc.uri, err)
		}
		if got := res.Contents[0].(mcp.TextResourceContents).Text; got != tc.want {
			t.Errorf("read %s: %s, want %s", tc.uri, got, tc.want)
		}
	}
}

// TestJoinTexts: a result's texts read as one resource text, each on a
// line of its own, and the size a link announces is that text's.
func TestJoinTexts(t *testing.T) {
	link := mcp.NewResourceLink("file:///x", "x", "", "text/plain")
	for _, tc := range []struct {
		name  string
		texts []mcp.Content
		want  string
	}{
		{"none", nil, ""},
		{"one, kept as it is", []mcp.Content{mcp.NewTextContent("a")}, "a"},
		{"a newline added between", []mcp.Content{mcp.NewTextContent("a"), mcp.NewTextContent("[note]\n")}, "a\n[note]\n"},
		{"none added after one", []mcp.Content{mcp.NewTextContent("a\n"), mcp.NewTextContent("[note]\n")}, "a\n[note]\n"},
		{"after an empty text", []mcp.Content{mcp.NewTextContent(""), mcp.NewTextContent("b")}, "\nb"},
		{"other contents skipped", []mcp.Content{mcp.NewTextContent("a"), link, mcp.NewTextContent("b")}, "a\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := joinTexts(tc.texts); got != tc.want {
				t.Errorf("joinTexts: %q, want %q", got, tc.want)
			}
			if got := textSize(&mcp.CallToolResult{Content: tc.texts}); got != len(tc.want) {
				t.Errorf("textSize: %d, want %d", got, len(tc.want))
			}
		})
	}
}

// TestViewReadsAreRateLimited: reading a view runs its tool, so it is
// charged as a call of that tool: past the caller's burst a read is
// refused, over HTTP and stdio alike, and recorded as such — else a
// limit on a tool's calls could be walked around through its view.
func TestViewReadsAreRateLimited(t *testing.T) {
	cfg := watchedConfig(auth.ScopeReadonly, nil)
	cfg.RateLimits = RateLimits{Default: Rate{1, time.Hour, 2}}
	cs := serveChoke(t, cfg)
	for _, stdio := range []bool{false, true} {
		c := cs.client(t, stdio, fmt.Sprintf("reader-%v", stdio), auth.ScopeReadonly)
		for i := range 3 {
			r := mcp.ReadResourceRequest{}
			r.Params.URI = "test://things/web"
			_, err := c.ReadResource(t.Context(), r)
			if i < 2 && err != nil {
				t.Errorf("stdio %v, read %d: %v", stdio, i+1, err)
			}
			if i == 2 && (err == nil || !strings.Contains(err.Error(), "rate limited")) {
				t.Errorf("stdio %v, a third read past a burst of 2: %v, want rate limited", stdio, err)
			}
		}
	}
	limited := 0
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] == string(audit.EventResourceRead) && strings.Contains(fmt.Sprint(r["reason"]), "rate limited") {
			limited++
		}
	}
	if limited != 2 {
		t.Errorf("%d rate-limited resource_read records, want 2", limited)
	}
}
