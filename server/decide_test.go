// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
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

// readTool is a low-risk read-only tool; every annotation is set, as
// Spec.Validate requires.
func readTool(name string, scope auth.Scope) tools.Spec {
	return tools.Spec{Scope: scope, Risk: tools.RiskLow,
		Tool: mcp.NewTool(name, mcp.WithDescription("test tool "+name),
			mcp.WithReadOnlyHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
			mcp.WithIdempotentHintAnnotation(true), mcp.WithOpenWorldHintAnnotation(false)),
		Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(name + " ran"), nil
		}}
}

func testPrompt(name string, scope auth.Scope) tools.PromptSpec {
	return tools.PromptSpec{Scope: scope, Risk: tools.RiskLow,
		Prompt: mcp.NewPrompt(name, mcp.WithPromptDescription("test prompt "+name)),
		Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult(name, []mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(name+" text"))}), nil
		}}
}

func testResource(uri string, scope auth.Scope) tools.ResourceSpec {
	return tools.ResourceSpec{Scope: scope, Risk: tools.RiskLow,
		Resource: mcp.NewResource(uri, "r", mcp.WithResourceDescription("test resource "+uri)),
		Handler: func(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: uri + " text"}}, nil
		}}
}

// chokeServer is a Server with a tool, a prompt and a resource per scope
// (readonly and admin) and one known but disabled tool, over HTTP.
type chokeServer struct {
	srv          *Server
	url, logPath string
	secret       []byte
	verifier     *auth.Verifier
}

func startChokeServer(t *testing.T) *chokeServer {
	t.Helper()
	return startChokeServerLimited(t, RateLimits{})
}

// startChokeServerLimited is startChokeServer with rate limits.
func startChokeServerLimited(t *testing.T, limits RateLimits) *chokeServer {
	t.Helper()
	enabled := []tools.Spec{readTool("see", auth.ScopeReadonly), readTool("admin_see", auth.ScopeAdmin)}
	return serveChoke(t, Config{
		Known:      append(slices.Clone(enabled), readTool("off", auth.ScopeReadonly)),
		Enabled:    enabled,
		Prompts:    []tools.PromptSpec{testPrompt("plan", auth.ScopeReadonly), testPrompt("admin_plan", auth.ScopeAdmin)},
		Resources:  []tools.ResourceSpec{testResource("tailops://test/public", auth.ScopeReadonly), testResource("tailops://test/secret", auth.ScopeAdmin)},
		RateLimits: limits,
	})
}

// serveChoke serves c over HTTP with a fresh audit log and a token
// verifier of its own (c's Logger and Audit are set here, and its
// Verifier unless it has one, which must take chokeServer's secret).
func serveChoke(t *testing.T, c Config) *chokeServer {
	t.Helper()
	cs := &chokeServer{logPath: filepath.Join(t.TempDir(), "audit.log"), secret: []byte("0123456789abcdef0123456789abcdef")}
	l, err := audit.Open(cs.logPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if c.Verifier == nil {
		v, err := auth.NewVerifier(auth.Config{Secret: cs.secret})
		if err != nil {
			t.Fatal(err)
		}
		c.Verifier = v
	}
	v := c.Verifier
	c.Logger, c.Audit = slog.New(slog.NewTextHandler(io.Discard, nil)), l
	cs.verifier = v
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	cs.srv = s
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	cs.url = hs.URL + "/mcp"
	return cs
}

// client returns an initialized mcp-go client with a token of scopes
// over HTTP, or, with stdio set, a stdio client the server serves as a
// caller with those scopes.
func (cs *chokeServer) client(t *testing.T, stdio bool, agent string, scopes ...auth.Scope) *client.Client {
	t.Helper()
	return cs.clientWith(t, stdio, agent, scopes, mcp.InitializeRequest{})
}

// clientWith is client with the client's options and its initialize
// request (its protocol version: empty means 2026-07-28 over HTTP).
func (cs *chokeServer) clientWith(t *testing.T, stdio bool, agent string, scopes []auth.Scope, init mcp.InitializeRequest, opts ...client.ClientOption) *client.Client {
	t.Helper()
	var tr transport.Interface
	if stdio {
		outR, inW := cs.stdio(t, &auth.Caller{Agent: agent, Method: auth.MethodStdio, Scopes: scopes})
		tr = transport.NewIO(outR, inW, io.NopCloser(strings.NewReader("")))
	} else {
		tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: agent, Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if tr, err = transport.NewStreamableHTTP(cs.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok})); err != nil {
			t.Fatal(err)
		}
	}
	c := client.NewClient(tr, opts...)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !stdio {
		t.Cleanup(func() { c.Close() })
	}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

// stdio serves caller on stdio through pipes until the test ends: the
// server's output to read, its input to write.
func (cs *chokeServer) stdio(t *testing.T, caller *auth.Caller) (io.Reader, io.WriteCloser) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cs.srv.ServeStdio(ctx, caller, inR, outW)
	}()
	t.Cleanup(func() { cancel(); inW.Close(); outW.Close(); <-done })
	return outR, inW
}

// TestChokePointDecidesEveryKind: tools, prompts and resources are listed
// only when the one decision function allows them to the caller, and
// every get and read, allowed or refused, leaves exactly one record of
// the right event with the decision the listing implied — over HTTP
// (where the scope pre-check answers 403) and over stdio (where the
// prompt's and resource's own wrappers refuse).
func TestChokePointDecidesEveryKind(t *testing.T) {
	cs := startChokeServer(t)
	ctx := t.Context()
	for _, tc := range []struct {
		agent  string
		stdio  bool
		scopes []auth.Scope
		want   []string // tools, prompts and resources listed
	}{
		{"http-reader", false, []auth.Scope{auth.ScopeReadonly}, []string{"see", "plan", "tailops://test/public"}},
		{"http-admin", false, []auth.Scope{auth.ScopeAdmin}, []string{"see", "admin_see", "plan", "admin_plan", "tailops://test/public", "tailops://test/secret"}},
		{"stdio-reader", true, []auth.Scope{auth.ScopeReadonly}, []string{"see", "plan", "tailops://test/public"}},
		{"stdio-admin", true, []auth.Scope{auth.ScopeAdmin}, []string{"see", "admin_see", "plan", "admin_plan", "tailops://test/public", "tailops://test/secret"}},
	} {
		t.Run(tc.agent, func(t *testing.T) {
			c := cs.client(t, tc.stdio, tc.agent, tc.scopes...)
			var listed []string
			ts, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ts.Tools {
				listed = append(listed, x.Name)
			}
			ps, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range ps.Prompts {
				listed = append(listed, x.Name)
			}
			rs, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range rs.Resources {
				listed = append(listed, x.URI)
			}
			if slices.Sort(listed); !slices.Equal(listed, slices.Sorted(slices.Values(tc.want))) {
				t.Errorf("listed %v, want %v", listed, tc.want)
			}
			admin := slices.Contains(tc.scopes, auth.ScopeAdmin)
			get := mcp.GetPromptRequest{}
			get.Params.Name = "admin_plan"
			_, perr := c.GetPrompt(ctx, get)
			read := mcp.ReadResourceRequest{}
			read.Params.URI = "tailops://test/secret"
			_, rerr := c.ReadResource(ctx, read)
			if admin != (perr == nil) || admin != (rerr == nil) {
				t.Errorf("admin prompt: %v; admin resource: %v; want both to succeed only for an admin", perr, rerr)
			}
			// Over HTTP the client sees the 403's error code; over stdio the
			// reason itself.
			wantP, wantR := "insufficient_scope", "insufficient_scope"
			if tc.stdio {
				wantP, wantR = "insufficient scope: admin_plan requires admin", "insufficient scope: tailops://test/secret requires admin"
			}
			if !admin && (!strings.Contains(perr.Error(), wantP) || !strings.Contains(rerr.Error(), wantR)) {
				t.Errorf("refusals %q, %q do not say the scope is missing", perr, rerr)
			}
			recs := readAuditLog(t, cs.logPath)
			for _, want := range []struct {
				event       audit.Event
				field, name string
			}{{audit.EventPromptGet, "prompt", "admin_plan"}, {audit.EventResourceRead, "resource", "tailops://test/secret"}} {
				var got []map[string]any
				for _, r := range recs {
					if r["event"] == string(want.event) && r[want.field] == want.name && r["caller"].(map[string]any)["agent"] == tc.agent {
						got = append(got, r)
					}
				}
				wantDecision, wantResult := audit.DecisionDenied, audit.ResultDenied
				if admin {
					wantDecision, wantResult = audit.DecisionAllowed, audit.ResultSuccess
				}
				wantReason := ""
				if !admin {
					wantReason = "insufficient scope: " + want.name + " requires admin"
				}
				if len(got) != 1 || got[0]["decision"] != string(wantDecision) || got[0]["result"] != string(wantResult) ||
					got[0]["risk"] != "low" || fmt.Sprint(got[0]["reason"]) != wantReason && wantReason != "" {
					t.Errorf("%s records of %s for %s: %v, want one %s/%s", want.event, want.name, tc.agent, got, wantDecision, wantResult)
				}
			}
		})
	}
}

// TestDecide: the decision function's answers for each kind: unknown,
// known but disabled, not allowed by scope (naming it), allowed.
func TestDecide(t *testing.T) {
	cs := &Server{entries: map[entryKey]*entry{
		{KindTool, "see"}:             {kind: KindTool, name: "see", scope: auth.ScopeReadonly},
		{KindPrompt, "admin_plan"}:    {kind: KindPrompt, name: "admin_plan", scope: auth.ScopeAdmin},
		{KindResource, "tailops://x"}: {kind: KindResource, name: "tailops://x", scope: auth.ScopeReadonly},
	}, known: map[entryKey]bool{{KindTool, "off"}: true}}
	reader := &auth.Caller{Agent: "r", Scopes: []auth.Scope{auth.ScopeReadonly}}
	for _, tc := range []struct {
		kind          Kind
		name          string
		allowed       bool
		reason        string
		missing       auth.Scope
		wantsEntryRef bool
	}{
		{KindTool, "see", true, "", "", true},
		{KindTool, "off", false, "tool off is disabled on this server", "", false},
		{KindTool, "nope", false, "unknown tool nope", "", false},
		{KindPrompt, "admin_plan", false, "insufficient scope: admin_plan requires admin", auth.ScopeAdmin, true},
		{KindPrompt, "see", false, "unknown prompt see", "", false},
		{KindResource, "tailops://x", true, "", "", true},
		{KindResource, "tailops://y", false, "unknown resource tailops://y", "", false},
	} {
		v := cs.decide(reader, tc.kind, tc.name)
		if v.Allowed != tc.allowed || v.Reason != tc.reason || v.Missing != tc.missing || (v.entry != nil) != tc.wantsEntryRef {
			t.Errorf("decide(%s %s) = %+v, want allowed %v reason %q missing %q", tc.kind, tc.name, v, tc.allowed, tc.reason, tc.missing)
		}
	}
}
