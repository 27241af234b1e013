// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestRevokedTokenStopsItsRunningCalls: revoking a token stops the calls
// it has running, at once: one that honours its context ends, one that
// does not has its result withheld all the same, and each record says
// what the tool returned and why nothing reached the caller. Another
// agent's call runs on untouched.
func TestRevokedTokenStopsItsRunningCalls(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	entered := make(chan string, 8)
	tool := func(name string, honours bool) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			entered <- name
			if honours {
				select {
				case <-ctx.Done():
					return mcp.NewToolResultError(name + " stopped: " + ctx.Err().Error()), nil
				case <-release:
				}
			} else {
				<-release
			}
			return mcp.NewToolResultText(name + " RESULT"), nil
		}
	}
	slow, stubborn := readTool("slow", auth.ScopeReadonly), readTool("stubborn", auth.ScopeReadonly)
	slow.Handler, stubborn.Handler = tool("slow", true), tool("stubborn", false)
	member := &blockingMember{entered: entered, release: release}
	cs := serveChoke(t, Config{Known: []tools.Spec{slow, stubborn}, Enabled: []tools.Spec{slow, stubborn}, Fleet: member})
	t.Cleanup(unblock) // before the server closes: a failing test must not leave handlers blocked
	bot, other := cs.client(t, false, "bot", auth.ScopeReadonly), cs.client(t, false, "other", auth.ScopeReadonly)

	type answer struct {
		who, text string
		isErr     bool
	}
	answers := make(chan answer, 4)
	call := func(who string, c interface {
		CallTool(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	}, tool string) {
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		if tool == "stubborn@nas" {
			req.Params.Name, req.Params.Arguments = "stubborn", map[string]any{"node": "nas"}
		}
		res, err := c.CallTool(t.Context(), req)
		if err != nil {
			answers <- answer{who + "/" + tool, err.Error(), true}
			return
		}
		answers <- answer{who + "/" + tool, res.Content[0].(mcp.TextContent).Text, res.IsError}
	}
	go call("bot", bot, "slow")
	go call("bot", bot, "stubborn")
	go call("other", other, "slow")
	go call("bot", bot, "stubborn@nas")
	for range 4 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the calls did not start")
		}
	}
	cs.verifier.SetRevocations(auth.Revocations{Agents: []string{"bot"}})
	select {
	case a := <-answers:
		if a.who != "bot/slow" || !a.isErr || !strings.Contains(a.text, "revoked while the call ran") {
			t.Errorf("first answer after the revocation: %+v, want bot/slow stopped as revoked", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked token's call that honours its context did not stop")
	}
	unblock()
	got := map[string]answer{}
	for range 3 {
		select {
		case a := <-answers:
			got[a.who] = a
		case <-time.After(10 * time.Second):
			t.Fatalf("answers: %v, want two more", got)
		}
	}
	if a := got["bot/stubborn"]; !a.isErr || !strings.Contains(a.text, "revoked while the call ran") || strings.Contains(a.text, "RESULT") {
		t.Errorf("bot/stubborn answered %+v, want its result withheld", a)
	}
	if a := got["bot/stubborn@nas"]; !a.isErr || !strings.Contains(a.text, "revoked while the call ran") || strings.Contains(a.text, "RESULT") {
		t.Errorf("bot's call forwarded to nas answered %+v, want its result withheld", a)
	}
	if a := got["other/slow"]; a.isErr || a.text != "slow RESULT" {
		t.Errorf("other/slow answered %+v, want its result", a)
	}
	recs := map[string]map[string]any{}
	for _, r := range readAuditLog(t, cs.logPath) {
		switch r["event"] {
		case "tool_call":
			recs[r["caller"].(map[string]any)["agent"].(string)+"/"+r["tool"].(string)] = r
		case "tool_call_forwarded":
			recs[r["caller"].(map[string]any)["agent"].(string)+"/"+r["tool"].(string)+"@nas"] = r
		}
	}
	for who, want := range map[string]string{"bot/slow": "error", "bot/stubborn": "success", "bot/stubborn@nas": "success", "other/slow": "success"} {
		r := recs[who]
		revoked := strings.Contains(fmt.Sprint(r["reason"]), "revoked while the call ran")
		if r["result"] != want || revoked != strings.HasPrefix(who, "bot/") {
			t.Errorf("%s's record: result %v, reason %q; want %s, revocation said only for bot", who, r["result"], r["reason"], want)
		}
	}
}

// blockingMember is a fake fleet member "nas" (no second TailOps here:
// the forwarding itself is tested in the root package's fleet tests)
// whose calls ignore their context and answer once released.
type blockingMember struct {
	entered chan<- string
	release <-chan struct{}
}

func (m *blockingMember) Self(_ context.Context, node string) bool { return node == "" }

func (m *blockingMember) Call(_ context.Context, node, tool string, _ any, _ mcp.ClientCapabilities, _ mcp.MultiRoundTripParams) (*mcp.CallToolResult, error) {
	m.entered <- tool + "@" + node
	<-m.release
	return mcp.NewToolResultText(tool + " RESULT on " + node), nil
}
