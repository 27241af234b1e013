// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// wipeArgs are the arguments of the confirmation tests' tools.
type wipeArgs struct {
	Target   string `json:"target"`
	Password string `json:"password,omitempty"`
}

// confirmServer serves "wipe" and "wipe_too" (high risk) and "look"
// (low), confirming the tools in confirm; ran counts the runs of each.
func confirmServer(t *testing.T, confirm ...string) (*chokeServer, map[string]*atomic.Int32) {
	t.Helper()
	return confirmServerLimited(t, RateLimits{}, confirm...)
}

// confirmServerLimited is confirmServer with rate limits.
func confirmServerLimited(t *testing.T, limits RateLimits, confirm ...string) (*chokeServer, map[string]*atomic.Int32) {
	t.Helper()
	ran := map[string]*atomic.Int32{"wipe": {}, "wipe_too": {}}
	return serveChoke(t, Config{Enabled: wipeSpecs(ran), Confirm: confirm, RateLimits: limits}), ran
}

// wipeSpecs are "wipe" and "wipe_too" (high risk), counting their runs
// in ran, and "look" (low).
func wipeSpecs(ran map[string]*atomic.Int32) []tools.Spec {
	var specs []tools.Spec
	for _, name := range []string{"wipe", "wipe_too"} {
		specs = append(specs, tools.TypedSpec[wipeArgs, wipeArgs]{
			Name: name, Title: "Wipe a target", Description: "wipes a target (test)", Scope: auth.ScopeAdmin, Risk: tools.RiskHigh,
			Hints: tools.Hints{Destructive: true},
			Run: func(_ context.Context, in wipeArgs) (wipeArgs, error) {
				ran[name].Add(1)
				return in, nil
			},
		}.Spec())
	}
	return append(specs, readTool("look", auth.ScopeAdmin))
}

// elicitor answers elicitations with answer and keeps what it was asked.
type elicitor struct {
	answer *mcp.ElicitationResult
	mu     sync.Mutex
	asked  []mcp.ElicitationParams
}

func (e *elicitor) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked = append(e.asked, req.Params)
	return e.answer, nil
}

func (e *elicitor) questions() []mcp.ElicitationParams {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]mcp.ElicitationParams(nil), e.asked...)
}

// confirmClient is an mcp-go client of cs with the admin scope, over
// HTTP or stdio, on a protocol revision with sessions (legacy) or on
// 2026-07-28, answering elicitations with el (nil: no elicitation
// capability).
func (cs *chokeServer) confirmClient(t *testing.T, stdio, legacy bool, el *elicitor) *client.Client {
	t.Helper()
	var opts []client.ClientOption
	if el != nil {
		opts = append(opts, client.WithElicitationHandler(el))
	}
	init := mcp.InitializeRequest{}
	if legacy {
		init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	}
	return cs.clientWith(t, stdio, "confirmer", []auth.Scope{auth.ScopeAdmin}, init, opts...)
}

// token is an admin token for cs.
func (cs *chokeServer) token(t *testing.T) string {
	t.Helper()
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "confirmer", Scopes: []auth.Scope{auth.ScopeAdmin}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func callWipe(t *testing.T, c *client.Client, tool string, args map[string]any) (*mcp.CallToolResult, error) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = tool, args
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return c.CallTool(ctx, req)
}

func accept(v any) *mcp.ElicitationResult {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: v}}
}

// TestConfirmationAsksTheUser: a call of a tool in confirm runs only when
// the client's user accepts with confirm true — over HTTP on a protocol
// revision with sessions (elicitation/create), over HTTP on 2026-07-28
// (input_required, then the retry) and over stdio; a decline, a cancel,
// an accept without the yes, or a client without the elicitation
// capability refuse it and nothing runs; the question shows the tool,
// its title and the arguments redacted; a tool not in confirm is not
// asked about; every outcome is in the audit log.
func TestConfirmationAsksTheUser(t *testing.T) {
	yes := accept(map[string]any{"confirm": true})
	for _, tc := range []struct {
		name          string
		stdio, legacy bool
		answer        *mcp.ElicitationResult // nil: no elicitation capability
		tool          string
		wantRun       bool
		wantConfirm   audit.Confirmation
		wantReason    string
	}{
		{"http-legacy-accept", false, true, yes, "wipe", true, audit.ConfirmConfirmed, ""},
		{"http-modern-accept", false, false, yes, "wipe", true, audit.ConfirmConfirmed, ""},
		{"stdio-accept", true, true, yes, "wipe", true, audit.ConfirmConfirmed, ""},
		{"http-legacy-decline", false, true, &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, "wipe", false, audit.ConfirmDeclined, "did not confirm"},
		{"http-modern-cancel", false, false, &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionCancel}}, "wipe", false, audit.ConfirmDeclined, "did not confirm"},
		{"stdio-accept-without-yes", true, true, accept(map[string]any{"confirm": false}), "wipe", false, audit.ConfirmDeclined, "did not confirm"},
		{"http-legacy-accept-string-yes", false, true, accept(map[string]any{"confirm": "true"}), "wipe", false, audit.ConfirmDeclined, "did not confirm"},
		{"http-legacy-no-capability", false, true, nil, "wipe", false, audit.ConfirmUnavailable, "did not declare the elicitation capability"},
		{"http-modern-no-capability", false, false, nil, "wipe", false, audit.ConfirmUnavailable, "does not declare the elicitation capability"},
		{"stdio-no-capability", true, true, nil, "wipe", false, audit.ConfirmUnavailable, "remove it from confirm"},
		{"not-in-confirm", false, true, yes, "wipe_too", true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ran := confirmServer(t, "wipe")
			var el *elicitor
			if tc.answer != nil {
				el = &elicitor{answer: tc.answer}
			}
			c := cs.confirmClient(t, tc.stdio, tc.legacy, el)
			res, err := callWipe(t, c, tc.tool, map[string]any{"target": "/srv/data", "password": "hunter2-secret"})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if res.IsError == tc.wantRun {
				t.Errorf("result %q (error %v), want it to run: %v", resultText(res), res.IsError, tc.wantRun)
			}
			if tc.wantReason != "" && !strings.Contains(resultText(res), tc.wantReason) {
				t.Errorf("refusal %q, want it to say %q", resultText(res), tc.wantReason)
			}
			if n := ran[tc.tool].Load(); (n == 1) != tc.wantRun || n > 1 {
				t.Errorf("%s ran %d times, want run: %v", tc.tool, n, tc.wantRun)
			}
			if el != nil {
				qs := el.questions()
				if tc.tool != "wipe" {
					if len(qs) != 0 {
						t.Errorf("asked %d times about a tool not in confirm", len(qs))
					}
				} else if len(qs) != 1 {
					t.Errorf("asked %d times, want once", len(qs))
				} else {
					q := qs[0]
					for _, want := range []string{"wipe", "Wipe a target", "/srv/data", "high-risk"} {
						if !strings.Contains(q.Message, want) {
							t.Errorf("question %q lacks %q", q.Message, want)
						}
					}
					if strings.Contains(q.Message, "hunter2-secret") {
						t.Errorf("question %q shows the password", q.Message)
					}
					if sch, _ := json.Marshal(q.RequestedSchema); !strings.Contains(string(sch), `"confirm":{`) || !strings.Contains(string(sch), `"boolean"`) {
						t.Errorf("requested schema %s, want a boolean confirm", sch)
					}
				}
			}
			rec := findRecord(readAuditLog(t, cs.logPath), audit.EventToolCall, tc.tool, "")
			if rec == nil {
				t.Fatal("no tool_call record")
			}
			got, _ := rec["confirmation"].(string)
			if got != string(tc.wantConfirm) {
				t.Errorf("record's confirmation %q, want %q: %v", got, tc.wantConfirm, rec)
			}
			wantResult := audit.ResultSuccess
			if !tc.wantRun {
				wantResult = audit.ResultDenied
				if reason, _ := rec["reason"].(string); !strings.Contains(reason, tc.wantReason) {
					t.Errorf("record's reason %q, want %q", reason, tc.wantReason)
				}
			}
			if rec["result"] != string(wantResult) {
				t.Errorf("record's result %v, want %s", rec["result"], wantResult)
			}
			if b, _ := json.Marshal(rec); strings.Contains(string(b), "hunter2-secret") {
				t.Errorf("record shows the password: %s", b)
			}
		})
	}
}

// TestConfirmationRefusesAHiddenPayload: a call whose redacted arguments
// would hide command syntax after a secret is not put to the user — they
// could not see what runs — on any revision: refused naming the argument,
// nothing asked, nothing run, and the refusal audited.
func TestConfirmationRefusesAHiddenPayload(t *testing.T) {
	for _, tc := range []struct {
		name          string
		stdio, legacy bool
	}{{"http-legacy", false, true}, {"http-modern", false, false}, {"stdio", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cs, ran := confirmServer(t, "wipe")
			el := &elicitor{answer: accept(map[string]any{"confirm": true})}
			c := cs.confirmClient(t, tc.stdio, tc.legacy, el)
			res, err := callWipe(t, c, "wipe", map[string]any{"target": "Authorization: Bearer abc; rm -rf /srv"})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if !res.IsError || !strings.Contains(resultText(res), "cannot be put to the user") || !strings.Contains(resultText(res), "/target") {
				t.Errorf("result %q, want the refusal naming /target", resultText(res))
			}
			if n := ran["wipe"].Load(); n != 0 {
				t.Errorf("wipe ran %d times", n)
			}
			if qs := el.questions(); len(qs) != 0 {
				t.Errorf("the user was asked: %v", qs)
			}
			var refused bool
			for _, r := range readAuditLog(t, cs.logPath) {
				if r["event"] == "tool_call" && r["tool"] == "wipe" && r["confirmation"] == string(audit.ConfirmUnavailable) {
					refused = true
				}
			}
			if !refused {
				t.Error("no audited refusal")
			}
		})
	}
}

// TestConfirmationShowsNoInvisibleRunes: the question shows the
// arguments with bidirectional overrides and zero-width characters as
// escapes, so the user reads them in the order they run.
func TestConfirmationShowsNoInvisibleRunes(t *testing.T) {
	cs, ran := confirmServer(t, "wipe")
	el := &elicitor{answer: accept(map[string]any{"confirm": true})}
	c := cs.confirmClient(t, false, true, el)
	res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv/ok \u202e;atad/vrs/ fr- mr\u202c\u200b"})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %v", err, res)
	}
	qs := el.questions()
	if len(qs) != 1 || ran["wipe"].Load() != 1 {
		t.Fatalf("asked %d times, ran %d times; want once each", len(qs), ran["wipe"].Load())
	}
	m := qs[0].Message
	if strings.ContainsAny(m, "\u202e\u202c\u200b") || !strings.Contains(m, `\u202e;atad`) || !strings.Contains(m, `\u200b`) {
		t.Errorf("the question holds the runes themselves, or not their escapes: %q", m)
	}
}

// TestConfirmationCannotBeForged: arguments never confirm (a confirm
// argument is an invalid argument), and on 2026-07-28 an answer the
// client sends without a request state this server issued for this very
// call (none, a made-up one, or one issued for other arguments) is
// ignored: the server asks again and nothing runs.
func TestConfirmationCannotBeForged(t *testing.T) {
	cs, ran := confirmServer(t, "wipe")
	el := &elicitor{answer: accept(map[string]any{"confirm": true})}
	c := cs.confirmClient(t, false, true, el)
	res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv", "confirm": true})
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "confirm") {
		t.Errorf("a confirm argument: %v %+v, want an invalid argument", err, res)
	}
	if len(el.questions()) != 0 || ran["wipe"].Load() != 0 {
		t.Errorf("a confirm argument asked %d times, ran %d times", len(el.questions()), ran["wipe"].Load())
	}

	// A state issued for other arguments.
	tok := cs.token(t)
	first := modernCall(t, cs, tok, map[string]any{"target": "/tmp/harmless"}, nil, "")
	other, _ := first["requestState"].(string)
	if first["resultType"] != "input_required" || other == "" {
		t.Fatalf("first call: %v, want input_required with a request state", first)
	}
	yes := map[string]any{confirmID: map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}
	for _, state := range []string{"", "made-up", other} {
		got := modernCall(t, cs, tok, map[string]any{"target": "/srv/data"}, yes, state)
		if got["resultType"] != "input_required" || got["requestState"] == state {
			t.Errorf("answer with state %q: %v, want asked again with a new state", state, got)
		}
	}
	if n := ran["wipe"].Load(); n != 0 {
		t.Errorf("wipe ran %d times on forged answers", n)
	}
	// The state issued for /tmp/harmless still confirms that call, once.
	if got := modernCall(t, cs, tok, map[string]any{"target": "/tmp/harmless"}, yes, other); got["isError"] == true || ran["wipe"].Load() != 1 {
		t.Errorf("the genuine answer: %v, ran %d", got, ran["wipe"].Load())
	}
	if got := modernCall(t, cs, tok, map[string]any{"target": "/tmp/harmless"}, yes, other); got["resultType"] != "input_required" || ran["wipe"].Load() != 1 {
		t.Errorf("the same answer replayed: %v, ran %d, want asked again", got, ran["wipe"].Load())
	}
}

// modernCall posts a 2026-07-28 tools/call of wipe with tok, answers and
// state, and returns its result.
func modernCall(t *testing.T, cs *chokeServer, tok string, args, answers map[string]any, state string) map[string]any {
	t.Helper()
	status, res := modernPost(t, cs, tok, args, answers, state)
	if res == nil {
		t.Fatalf("response %d without a result", status)
	}
	return res
}

// modernPost is modernCall that also gives the HTTP status, and no result
// for a response without one (a 429).
func modernPost(t *testing.T, cs *chokeServer, tok string, args, answers map[string]any, state string) (int, map[string]any) {
	t.Helper()
	params := map[string]any{"name": "wipe", "arguments": args, "_meta": map[string]any{
		mcp.MetaKeyProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, mcp.MetaKeyClientCapabilities: map[string]any{"elicitation": map[string]any{}},
		mcp.MetaKeyClientInfo: map[string]any{"name": "raw", "version": "1"}}}
	if answers != nil {
		params["inputResponses"] = answers
	}
	if state != "" {
		params["requestState"] = state
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, cs.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcp.LATEST_PROTOCOL_VERSION)
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "wipe")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	msg := raw
	if i := bytes.LastIndex(raw, []byte("data: ")); i >= 0 {
		msg = bytes.TrimSpace(raw[i+len("data: "):])
	}
	var out struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(msg, &out); err != nil || out.Result == nil {
		t.Fatalf("response %d %s: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out.Result
}

// TestLoweredCallIsConfirmed: with ConfirmLowered (confirm's default), a
// call of a critical tool that its arguments lower to high — which waits
// for no approval — is confirmed by the user, while a call that stays
// critical goes to approval unasked, and a tool declared high and not in
// confirm stays unasked. Without it, neither call of the critical tool is
// asked.
func TestLoweredCallIsConfirmed(t *testing.T) {
	ran := map[string]*atomic.Int32{"wipe": {}, "wipe_too": {}}
	critical := tools.TypedSpec[wipeArgs, wipeArgs]{
		Name: "purge", Title: "Purge a target", Description: "purges a target (test)", Scope: auth.ScopeAdmin, Risk: tools.RiskCritical,
		Hints: tools.Hints{Destructive: true},
		RiskFor: func(args any) tools.Risk {
			if m, _ := args.(map[string]any); m != nil && strings.HasPrefix(fmt.Sprint(m["target"]), "/tmp/") {
				return tools.RiskHigh
			}
			return tools.RiskCritical
		},
		Run: func(_ context.Context, in wipeArgs) (wipeArgs, error) { return in, nil },
	}.Spec()
	for _, lowered := range []bool{true, false} {
		t.Run(fmt.Sprint("ConfirmLowered=", lowered), func(t *testing.T) {
			cs := serveChoke(t, Config{Enabled: append(wipeSpecs(ran), critical), ConfirmLowered: lowered})
			el := &elicitor{answer: accept(map[string]any{"confirm": true})}
			c := cs.confirmClient(t, false, true, el)
			if res, err := callWipe(t, c, "purge", map[string]any{"target": "/tmp/cache"}); err != nil || res.IsError {
				t.Fatalf("lowered call: %v %v", err, res)
			}
			if asked := len(el.questions()); asked != map[bool]int{true: 1, false: 0}[lowered] {
				t.Errorf("lowered call: the user was asked %d times", asked)
			}
			res, err := callWipe(t, c, "purge", map[string]any{"target": "/srv/data"})
			if err != nil || !res.IsError || !strings.Contains(resultText(res), "approval") {
				t.Errorf("critical call: %v %q, want it sent to approval (none configured here)", err, resultText(res))
			}
			if asked := len(el.questions()); asked != map[bool]int{true: 1, false: 0}[lowered] {
				t.Errorf("after the critical call the user was asked %d times in all", asked)
			}
		})
	}
}
