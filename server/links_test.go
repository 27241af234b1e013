// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

type dumpArgs struct {
	Path  string `json:"path"`
	Limit *int   `json:"limit,omitempty"`
	Upper bool   `json:"upper,omitempty"`
}

type dumpResult struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	Size    int    `json:"size"`
	Link    string `json:"link,omitempty"`
}

// dumpTool answers limit bytes (default 10) of x, or X when upper, as
// read_file answers a file.
func dumpTool() tools.Spec {
	return tools.TypedSpec[dumpArgs, dumpResult]{
		Name: "dump", Description: "test tool dump", Scope: auth.ScopeReadonly, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(_ context.Context, in dumpArgs) (dumpResult, error) {
			n, x := 10, "x"
			if in.Limit != nil {
				n = *in.Limit
			}
			if in.Upper {
				x = "X"
			}
			return dumpResult{Path: in.Path, Content: strings.Repeat(x, n), Size: n}, nil
		},
		Text:      func(r dumpResult) string { return r.Content },
		Untrusted: true,
	}.Spec()
}

// dumpView is dumpTool's view, which links its large results.
func dumpView() tools.ResourceView {
	return tools.ResourceView{
		URI: "test://dump/{+path}", Name: "dump", Description: "d", MIMEType: "text/plain", Tool: "dump",
		Args:  func(v map[string]string) map[string]any { return map[string]any{"path": "/" + v["path"]} },
		Query: []string{"limit", "upper"},
		Link: func(a map[string]any) (map[string]string, bool) {
			p, _ := a["path"].(string)
			rel, ok := strings.CutPrefix(p, "/")
			vals := map[string]string{"path": rel}
			if l, ok := a["limit"].(float64); ok {
				vals["limit"] = strconv.FormatFloat(l, 'f', -1, 64)
			}
			if u, ok := a["upper"].(bool); ok && u {
				vals["upper"] = "true"
			}
			return vals, ok
		},
		Omit: []string{"content"},
	}
}

func dump(t *testing.T, c *client.Client, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = "dump", args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("dump %v: %v", args, res.Content)
	}
	return res
}

// linkOf returns res's resource link, failing unless res is a link
// result: a text saying why, the link, and the structured result with
// content emptied and link set.
func linkOf(t *testing.T, res *mcp.CallToolResult, wantURI string, size int64) string {
	t.Helper()
	if len(res.Content) != 2 {
		t.Fatalf("want a text and a link, got %d contents", len(res.Content))
	}
	text, _ := res.Content[0].(mcp.TextContent)
	link, ok := res.Content[1].(mcp.ResourceLink)
	if !ok || link.URI != wantURI || link.Size == nil || *link.Size != size || link.MIMEType != "text/plain" || link.Name != "dump" {
		t.Fatalf("want a link to %s of %d bytes, got %+v", wantURI, size, res.Content[1])
	}
	if !strings.Contains(text.Text, wantURI) || !strings.Contains(text.Text, "--inline-max") || strings.Contains(text.Text, "xxxx") {
		t.Errorf("the text should name the URI and the setting, and hold none of the content: %q", text.Text)
	}
	sc, _ := res.StructuredContent.(map[string]any)
	if sc["content"] != "" || sc["link"] != wantURI || sc["size"] != float64(size) {
		t.Errorf("structured content: want content emptied, link %s and the rest kept, got %v", wantURI, sc)
	}
	return link.URI
}

// readText reads uri with c and returns its first contents' text.
func readText(t *testing.T, c *client.Client, uri string) (string, error) {
	t.Helper()
	r := mcp.ReadResourceRequest{}
	r.Params.URI = uri
	res, err := c.ReadResource(t.Context(), r)
	if err != nil {
		return "", err
	}
	return res.Contents[0].(mcp.TextResourceContents).Text, nil
}

// TestLargeResultsAreLinks: a result larger than InlineMax of a tool
// whose view links it is a resource_link to the view's URI for the same
// arguments, which reads the same text back through the choke point; a
// smaller one, one for a client whose protocol has no links, and one no
// URI can name stay inline; the query is checked as the tool's
// arguments.
func TestLargeResultsAreLinks(t *testing.T) {
	cs := serveChoke(t, Config{Enabled: []tools.Spec{dumpTool()}, Views: []tools.ResourceView{dumpView()}, InlineMax: 1000})
	for _, stdio := range []bool{false, true} {
		c := cs.client(t, stdio, "linker", auth.ScopeReadonly)
		if res := dump(t, c, map[string]any{"path": "/a/b", "limit": 1000}); len(res.Content) != 1 || res.Content[0].(mcp.TextContent).Text != strings.Repeat("x", 1000) {
			t.Fatalf("stdio=%v: a result of InlineMax bytes should be inline, got %d contents", stdio, len(res.Content))
		}
		uri := linkOf(t, dump(t, c, map[string]any{"path": "/a/b", "limit": 5000, "upper": true}), "test://dump/a/b?limit=5000&upper=true", 5000)
		text, err := readText(t, c, uri)
		if err != nil || text != strings.Repeat("X", 5000) {
			t.Fatalf("stdio=%v: reading the link: want the 5000 bytes the call had, got %d bytes, %v", stdio, len(text), err)
		}
		// A name no URI can spell is inlined.
		if res := dump(t, c, map[string]any{"path": "/a?b", "limit": 5000}); len(res.Content) != 1 {
			t.Errorf("stdio=%v: a path holding '?' cannot be linked, got %d contents", stdio, len(res.Content))
		}
	}
	recs := readAuditLog(t, cs.logPath)
	var reads int
	for _, r := range recs {
		if r["event"] == "resource_read" && r["resource"] == "test://dump/a/b?limit=5000&upper=true" && r["decision"] == "allowed" {
			args, _ := r["arguments"].(map[string]any)
			if args["path"] != "/a/b" || args["limit"] != float64(5000) || args["upper"] != true {
				t.Errorf("the read's record should carry the call's arguments, got %v", args)
			}
			reads++
		}
	}
	if reads != 2 {
		t.Errorf("want a resource_read record per read of the link, got %d", reads)
	}

	t.Run("old-protocol", func(t *testing.T) {
		init := mcp.InitializeRequest{}
		init.Params.ProtocolVersion = "2025-03-26"
		c := cs.clientWith(t, false, "old", []auth.Scope{auth.ScopeReadonly}, init)
		if res := dump(t, c, map[string]any{"path": "/a", "limit": 5000}); len(res.Content) != 1 || len(res.Content[0].(mcp.TextContent).Text) != 5000 {
			t.Errorf("a 2025-03-26 client has no resource_link: want the text inline, got %d contents", len(res.Content))
		}
	})

	t.Run("query", func(t *testing.T) {
		c := cs.client(t, false, "querier", auth.ScopeReadonly)
		for uri, want := range map[string]string{
			"test://dump/a?limit=3":             "xxx",
			"test://dump/a":                     strings.Repeat("x", 10),
			"test://dump/a?upper=true&limit=2":  "XX", // in any order
			"test://dump/a?limit=3&bogus=1":     "unknown query parameter",
			"test://dump/a?limit=three":         "query parameter limit: must be an integer",
			"test://dump/a?limit=1&limit=2":     "query parameter limit is given 2 times",
			"test://dump/a?limit=2&upper=maybe": "query parameter upper: must be true or false",
			"test://dump/q%3Fmark?limit=4":      "xxxx", // a '?' in the path, escaped
		} {
			text, err := readText(t, c, uri)
			switch {
			case strings.HasPrefix(strings.ToLower(want), "x"):
				if err != nil || text != want {
					t.Errorf("%s: want %q, got %q, %v", uri, want, text, err)
				}
			case err == nil:
				t.Errorf("%s: want refused, read %q", uri, text)
			case want != "" && !strings.Contains(err.Error(), want):
				t.Errorf("%s: want an error saying %q, got %v", uri, want, err)
			}
		}
		escaped := false
		for _, r := range readAuditLog(t, cs.logPath) {
			if args, _ := r["arguments"].(map[string]any); r["resource"] == "test://dump/q%3Fmark?limit=4" && args["path"] == "/q?mark" {
				escaped = true
			}
		}
		if !escaped {
			t.Error("test://dump/q%3Fmark was not read as the path /q?mark")
		}
	})
}

// TestConfirmedLinks: a tool the user confirms links its large result
// only for the caller whose call was confirmed, and only that URI: a
// resource read cannot ask the user, so any other read of the view is
// refused, and recorded.
func TestConfirmedLinks(t *testing.T) {
	cs := serveChoke(t, Config{Enabled: []tools.Spec{dumpTool()}, Views: []tools.ResourceView{dumpView()}, InlineMax: 1000, Confirm: []string{"dump"}})
	el := &elicitor{answer: accept(map[string]any{"confirm": true})}
	c := cs.confirmClient(t, false, true, el)
	uri := linkOf(t, dump(t, c, map[string]any{"path": "/a", "limit": 5000}), "test://dump/a?limit=5000", 5000)
	if len(el.questions()) != 1 {
		t.Fatalf("the call should have been confirmed once, asked %d times", len(el.questions()))
	}
	if text, err := readText(t, c, uri); err != nil || len(text) != 5000 {
		t.Fatalf("the confirmed call's link should read: %d bytes, %v", len(text), err)
	}
	for _, u := range []string{"test://dump/a?limit=4000", "test://dump/b?limit=5000", "test://dump/a"} {
		if _, err := readText(t, c, u); err == nil || !strings.Contains(err.Error(), "confirmed in the client") {
			t.Errorf("%s was not confirmed: want refused, got %v", u, err)
		}
	}
	other := cs.client(t, false, "other", auth.ScopeAdmin)
	if _, err := readText(t, other, uri); err == nil || !strings.Contains(err.Error(), "confirmed in the client") {
		t.Errorf("another caller reading the link: want refused, got %v", err)
	}
	var confirmed, refused int
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] != "resource_read" {
			continue
		}
		switch {
		case r["decision"] == "allowed" && r["confirmation"] == "confirmed" && r["resource"] == uri:
			confirmed++
		case r["decision"] == "denied":
			refused++
		}
	}
	if confirmed != 1 || refused != 4 {
		t.Errorf("want 1 confirmed read and 4 refusals recorded, got %d and %d", confirmed, refused)
	}
}

// TestLinkDeclarations: a view that links a tool whose output schema has
// no link field, or whose query names no argument of the tool, stops
// New.
func TestLinkDeclarations(t *testing.T) {
	noLink := dumpView()
	noLink.Tool, noLink.URI, noLink.Query = "plain", "test://plain/{+path}", nil
	noArg := dumpView()
	noArg.Query = []string{"limit", "colour"}
	for name, c := range map[string]struct {
		spec tools.Spec
		view tools.ResourceView
		want string
	}{
		"no-link-field": {readTool("plain", auth.ScopeReadonly), noLink, "no field link"},
		"no-argument":   {dumpTool(), noArg, "colour is not an argument"},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := audit.Open(filepath.Join(t.TempDir(), "audit.log"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			_, err = New(Config{Audit: l, Enabled: []tools.Spec{c.spec}, Views: []tools.ResourceView{c.view}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want an error saying %q, got %v", c.want, err)
			}
		})
	}
}

// TestForwardedResultsAreInline: a call a fleet entry node forwarded
// gets its result inline, as the entry node would read its own resource.
func TestForwardedResultsAreInline(t *testing.T) {
	cs := serveChoke(t, Config{Enabled: []tools.Spec{dumpTool()}, Views: []tools.ResourceView{dumpView()}, InlineMax: 1000})
	e := cs.srv.entries[entryKey{KindTool, "dump"}]
	ctx := mcpserver.WithRequestProtocolInfo(t.Context(), &mcpserver.RequestProtocolInfo{Modern: true, ProtocolVersion: "2026-07-28"})
	res := mcp.NewToolResultStructured(dumpResult{Path: "/a", Content: strings.Repeat("x", 5000)}, strings.Repeat("x", 5000))
	args := map[string]any{"path": "/a", "limit": float64(5000)}
	if got := cs.srv.linkResult(ctx, e, &auth.Caller{Agent: "direct"}, args, res); len(got.Content) != 2 {
		t.Fatalf("a direct call should be linked, got %d contents", len(got.Content))
	}
	via := &auth.Caller{Agent: "forwarded", Via: &auth.TailscaleIdentity{NodeName: "entry"}}
	if got := cs.srv.linkResult(ctx, e, via, args, res); got != res {
		t.Errorf("a forwarded call should be inline, got %d contents", len(got.Content))
	}
}

// TestLinkGrants: a confirmed call's link is readable for linkTTL, by
// its key only, and at most maxLinkGrants are kept (the oldest dropped).
func TestLinkGrants(t *testing.T) {
	var g linkGrants
	now := time.Now()
	g.grant("a", now)
	if !g.has("a", now.Add(linkTTL)) || g.has("a", now.Add(linkTTL+time.Second)) || g.has("b", now) {
		t.Error("a grant should hold for linkTTL, and only for its key")
	}
	for i := range maxLinkGrants {
		g.grant(strconv.Itoa(i), now)
	}
	if g.has("a", now) || !g.has("0", now) || !g.has(strconv.Itoa(maxLinkGrants-1), now) || len(g.until) != maxLinkGrants {
		t.Errorf("past maxLinkGrants the oldest should go: %d kept", len(g.until))
	}
}
