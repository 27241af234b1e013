// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
)

// checkInlineIcon fails unless icons is one icon whose source is a data:
// URI of an image type (the one its mimeType says) holding an SVG that
// refers to nothing outside itself: no href, no url(), no address but the
// SVG namespace's name. It returns the source.
func checkInlineIcon(t *testing.T, what string, icons []sdk.Icon) string {
	t.Helper()
	if len(icons) != 1 {
		t.Errorf("%s: %d icons, want 1", what, len(icons))
		return ""
	}
	ic := icons[0]
	mime, data, ok := strings.Cut(strings.TrimPrefix(ic.Source, "data:"), ";base64,")
	if !strings.HasPrefix(ic.Source, "data:") || !ok || !strings.HasPrefix(mime, "image/") || ic.MIMEType != mime {
		t.Errorf("%s: icon %.60q (mimeType %q), want a base64 data: URI of an image type, as its mimeType says", what, ic.Source, ic.MIMEType)
		return ic.Source
	}
	b, err := base64.StdEncoding.DecodeString(data)
	svg := strings.ToLower(string(b))
	if err != nil || !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(strings.TrimSpace(svg), "</svg>") {
		t.Errorf("%s: icon data %q (%v), want an SVG", what, b, err)
	}
	rest := strings.ReplaceAll(svg, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, ref := range []string{"href", "url(", "://", "@import", "<script", "<image", "<foreignobject"} {
		if strings.Contains(rest, ref) {
			t.Errorf("%s: icon refers outside itself (%q): %s", what, ref, b)
		}
	}
	return ic.Source
}

// TestIconsAreInline: through the official Go SDK client, the server's
// serverInfo, every tool of tools/list, every prompt of prompts/list and
// every resource and resource template carry one icon, each a data: URI (nothing for a client to fetch); the
// tools of one toolset share their toolset's icon, and no two toolsets
// share one.
func TestIconsAreInline(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "icons", auth.ScopeAdmin))
	ctx := context.Background()
	checkInlineIcon(t, "serverInfo", cs.InitializeResult().ServerInfo.Icons)

	lt, err := cs.ListTools(ctx, nil)
	if err != nil || len(lt.Tools) == 0 {
		t.Fatalf("tools/list: %v (%d tools)", err, len(lt.Tools))
	}
	listed := map[string]string{} // tool → its icon's source
	for _, tool := range lt.Tools {
		listed[tool.Name] = checkInlineIcon(t, "tool "+tool.Name, tool.Icons)
	}
	c := &config{env: environ{}}
	owner := map[string]string{} // icon source → its toolset
	for _, ts := range c.toolsets(nil, nil, nil).sets {
		src := ""
		for _, sp := range ts.Tools() {
			got, ok := listed[sp.Name()]
			switch {
			case !ok: // not enabled by default
			case src == "":
				src = got
			case got != src:
				t.Errorf("tool %s: not its toolset %s's icon", sp.Name(), ts.Name())
			}
		}
		if other, dup := owner[src]; src != "" && dup {
			t.Errorf("toolsets %s and %s share an icon", other, ts.Name())
		}
		owner[src] = ts.Name()
	}

	lp, err := cs.ListPrompts(ctx, nil)
	if err != nil || len(lp.Prompts) == 0 {
		t.Fatalf("prompts/list: %v", err)
	}
	for _, p := range lp.Prompts {
		checkInlineIcon(t, "prompt "+p.Name, p.Icons)
	}
	// Resources and templates carry the icon of the toolset they come
	// from (a view: its tool's).
	lr, err := cs.ListResources(ctx, nil)
	if err != nil || len(lr.Resources) == 0 {
		t.Fatalf("resources/list: %v", err)
	}
	for _, r := range lr.Resources {
		checkInlineIcon(t, "resource "+r.URI, r.Icons)
	}
	lrt, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(lrt.ResourceTemplates) == 0 {
		t.Fatalf("resources/templates/list: %v", err)
	}
	for _, r := range lrt.ResourceTemplates {
		if src := checkInlineIcon(t, "template "+r.URITemplate, r.Icons); r.URITemplate == "tailops://containers/{id}/logs" && src != listed["get_container_logs"] {
			t.Errorf("%s does not carry its tool's icon", r.URITemplate)
		}
	}
}
