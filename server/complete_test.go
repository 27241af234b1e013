// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// startWorkflowServer serves two tools (see: readonly, admin_see: admin),
// the prompts flow (uses see; its argument thing completes from see, its
// argument hidden from admin_see) and admin_flow (uses see and
// admin_see), and the two completions.
func startWorkflowServer(t *testing.T) *chokeServer {
	t.Helper()
	return serveChoke(t, workflowConfig())
}

// workflowConfig is startWorkflowServer's configuration.
func workflowConfig() Config {
	flow := testPrompt("flow", auth.ScopeAuthenticated)
	flow.Prompt.Arguments = []mcp.PromptArgument{{Name: "thing"}, {Name: "hidden"}, {Name: "free"}}
	flow.Uses, flow.Optional = []string{"see"}, []string{"admin_see"}
	flow.Handler = func(ctx context.Context, _ mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		text := "optional: " + strings.Join(tools.OptionalTools(ctx), ",")
		return mcp.NewGetPromptResult("flow", []mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text))}), nil
	}
	flow.Complete = map[string]string{"thing": "thing", "hidden": "secret"}
	adminFlow := testPrompt("admin_flow", auth.ScopeAuthenticated)
	adminFlow.Uses = []string{"see", "admin_see"}
	things := []string{"beta", "alpha", "alpine"}
	for i := range 150 {
		things = append(things, fmt.Sprintf("z%03d", i))
	}
	return Config{
		Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly), readTool("admin_see", auth.ScopeAdmin)},
		Prompts: []tools.PromptSpec{flow, adminFlow},
		Completions: []tools.Completion{
			{Kind: "thing", Tool: "see", Values: func(context.Context) ([]string, error) { return things, nil }},
			{Kind: "secret", Tool: "admin_see", Values: func(context.Context) ([]string, error) { return []string{"top-secret-name"}, nil }},
		},
	}
}

// TestCompletionsAreRateLimited: a completion runs its listing tool, and
// is charged to the caller's rate limits as a call of it: past them it is
// refused, saying so, and recorded.
func TestCompletionsAreRateLimited(t *testing.T) {
	cfg := workflowConfig()
	cfg.RateLimits = RateLimits{Default: Rate{1, time.Hour, 2}}
	cs := serveChoke(t, cfg)
	for _, stdio := range []bool{false, true} {
		c := cs.client(t, stdio, fmt.Sprintf("completer-%v", stdio), auth.ScopeReadonly)
		for i := range 3 {
			_, err := c.Complete(t.Context(), completeReq("flow", "thing", "al"))
			if i < 2 && err != nil {
				t.Errorf("stdio %v, completion %d: %v", stdio, i+1, err)
			}
			if i == 2 && (err == nil || !strings.Contains(err.Error(), "rate limited")) {
				t.Errorf("stdio %v, a third completion past a burst of 2: %v, want rate limited", stdio, err)
			}
		}
	}
	limited := 0
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] == string(audit.EventCompletion) && strings.Contains(fmt.Sprint(r["reason"]), "rate limited") {
			limited++
		}
	}
	if limited != 2 {
		t.Errorf("%d rate-limited completion records, want 2", limited)
	}
}

func completeReq(prompt, arg, value string) mcp.CompleteRequest {
	var r mcp.CompleteRequest
	r.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: prompt}
	r.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
	return r
}

// TestPromptsFollowTheirTools: a prompt is listed and served only to a
// caller that may call every tool it uses (the reason names the tool),
// over HTTP and stdio alike, and its handler learns which of its
// optional tools the caller may call.
func TestPromptsFollowTheirTools(t *testing.T) {
	cs := startWorkflowServer(t)
	for _, stdio := range []bool{false, true} {
		for _, tc := range []struct {
			scope auth.Scope
			want  []string
		}{
			{auth.ScopeReadonly, []string{"flow"}},
			{auth.ScopeAdmin, []string{"admin_flow", "flow"}},
		} {
			t.Run(fmt.Sprintf("stdio=%v/%s", stdio, tc.scope), func(t *testing.T) {
				c := cs.client(t, stdio, "wf-"+string(tc.scope), tc.scope)
				ps, err := c.ListPrompts(t.Context(), mcp.ListPromptsRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range ps.Prompts {
					got = append(got, p.Name)
				}
				if slices.Sort(got); !slices.Equal(got, tc.want) {
					t.Errorf("listed %v, want %v", got, tc.want)
				}
				get := mcp.GetPromptRequest{}
				get.Params.Name = "flow"
				res, err := c.GetPrompt(t.Context(), get)
				if err != nil {
					t.Fatal(err)
				}
				wantText := map[auth.Scope]string{auth.ScopeReadonly: "optional: ", auth.ScopeAdmin: "optional: admin_see"}[tc.scope]
				if got := res.Messages[0].Content.(mcp.TextContent).Text; got != wantText {
					t.Errorf("the prompt's handler saw %q, want %q (its optional tools the caller may call)", got, wantText)
				}
				get.Params.Name = "admin_flow"
				_, err = c.GetPrompt(t.Context(), get)
				if admin := tc.scope == auth.ScopeAdmin; admin != (err == nil) {
					t.Errorf("get admin_flow as %s: %v", tc.scope, err)
				}
				if stdio && err != nil && !strings.Contains(err.Error(), "prompt admin_flow uses tool admin_see: insufficient scope") {
					t.Errorf("the refusal does not name the tool: %v", err)
				}
			})
		}
	}
	recs := readAuditLog(t, cs.logPath)
	var refused int
	for _, r := range recs {
		if r["event"] == string(audit.EventPromptGet) && r["prompt"] == "admin_flow" && r["decision"] == string(audit.DecisionDenied) {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refused prompt_get records of admin_flow, want 2 (HTTP and stdio)", refused)
	}
}

// TestCompletions: completion/complete offers the names a toolset lists,
// filtered by what was typed, sorted, at most 100 (with the total), only
// to a caller allowed the prompt and the listing tool; every request is
// recorded as a completion, refusals too, and a refused one reveals no
// name.
func TestCompletions(t *testing.T) {
	cs := startWorkflowServer(t)
	for _, stdio := range []bool{false, true} {
		t.Run(fmt.Sprintf("stdio=%v", stdio), func(t *testing.T) {
			reader := cs.client(t, stdio, fmt.Sprintf("complete-%v", stdio), auth.ScopeReadonly)
			ctx := t.Context()
			for _, tc := range []struct {
				prompt, arg, value string
				want               []string // nil: refused
				total              int
				more               bool
			}{
				{"flow", "thing", "al", []string{"alpha", "alpine"}, 2, false},
				{"flow", "thing", "", nil, 153, true},
				{"flow", "thing", "q", []string{}, 0, false},
				{"flow", "free", "x", []string{}, 0, false}, // not completed
				{"flow", "hidden", "", nil, -1, false},      // admin_see is not the reader's
				{"admin_flow", "x", "", nil, -1, false},     // the prompt is not the reader's
			} {
				res, err := reader.Complete(ctx, completeReq(tc.prompt, tc.arg, tc.value))
				if tc.total < 0 {
					if err == nil {
						t.Errorf("%s/%s: completed %v for a caller without the scope", tc.prompt, tc.arg, res.Completion.Values)
					} else if strings.Contains(err.Error(), "top-secret-name") {
						t.Errorf("the refusal reveals a name: %v", err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s/%s %q: %v", tc.prompt, tc.arg, tc.value, err)
					continue
				}
				got := res.Completion
				if tc.want != nil && !slices.Equal(got.Values, tc.want) || got.Total != tc.total || got.HasMore != tc.more {
					t.Errorf("%s/%s %q: %v (total %d, more %v), want %v (total %d, more %v)", tc.prompt, tc.arg, tc.value, got.Values, got.Total, got.HasMore, tc.want, tc.total, tc.more)
				}
				if tc.more && (len(got.Values) != 100 || !slices.IsSorted(got.Values)) {
					t.Errorf("%d values, sorted %v; want the first 100, sorted", len(got.Values), slices.IsSorted(got.Values))
				}
			}
		})
	}
	var allowed, denied int
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] != string(audit.EventCompletion) {
			continue
		}
		switch r["decision"] {
		case string(audit.DecisionAllowed):
			allowed++
		case string(audit.DecisionDenied):
			denied++
			if !strings.Contains(fmt.Sprint(r["reason"]), "insufficient scope") {
				t.Errorf("a refused completion's record does not say why: %v", r)
			}
		}
	}
	if allowed != 8 || denied != 4 {
		t.Errorf("completion records: %d allowed, %d denied; want 8 and 4", allowed, denied)
	}
}

// TestResourceTemplateCompletions: completion/complete of a resource
// template's variable offers the names its completion lists, over HTTP
// and stdio, only to a caller allowed the template's tool and the listing
// tool; a variable without a completion gets none; every request is a
// completion record naming the template, and a refusal reveals no name.
func TestResourceTemplateCompletions(t *testing.T) {
	id := func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{echoTool("thing", auth.ScopeReadonly), echoTool("secret", auth.ScopeAdmin), readTool("list_secrets", auth.ScopeAdmin)},
		Views: []tools.ResourceView{
			{URI: "test://things/{id}", Name: "things", Description: "d", Tool: "thing", Args: id, Complete: map[string]string{"id": "thing"}},
			{URI: "test://secrets/{id}", Name: "secrets", Description: "d", Tool: "secret", Args: id, Complete: map[string]string{"id": "secret"}},
			{URI: "test://leaky/{id}", Name: "leaky", Description: "d", Tool: "thing", Args: id, Complete: map[string]string{"id": "secret"}},
			{URI: "test://plain/{id}", Name: "plain", Description: "d", Tool: "thing", Args: id},
		},
		Completions: []tools.Completion{
			{Kind: "thing", Tool: "thing", Values: func(context.Context) ([]string, error) { return []string{"web", "worker", "db"}, nil }},
			{Kind: "secret", Tool: "list_secrets", Values: func(context.Context) ([]string, error) { return []string{"top-secret-name"}, nil }},
		},
	})
	complete := func(c interface {
		Complete(context.Context, mcp.CompleteRequest) (*mcp.CompleteResult, error)
	}, uri, value string) ([]string, error) {
		var r mcp.CompleteRequest
		r.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: uri}
		r.Params.Argument = mcp.CompleteArgument{Name: "id", Value: value}
		res, err := c.Complete(t.Context(), r)
		if err != nil {
			return nil, err
		}
		return res.Completion.Values, nil
	}
	for _, stdio := range []bool{false, true} {
		for _, scope := range []auth.Scope{auth.ScopeReadonly, auth.ScopeAdmin} {
			t.Run(fmt.Sprintf("stdio=%v/%s", stdio, scope), func(t *testing.T) {
				c := cs.client(t, stdio, fmt.Sprintf("rc-%v-%s", stdio, scope), scope)
				admin := scope == auth.ScopeAdmin
				for _, tc := range []struct {
					uri, value string
					want       []string // nil: refused
				}{
					{"test://things/{id}", "w", []string{"web", "worker"}},
					{"test://plain/{id}", "w", []string{}},
					{"test://secrets/{id}", "", map[bool][]string{true: {"top-secret-name"}}[admin]},
					{"test://leaky/{id}", "", map[bool][]string{true: {"top-secret-name"}}[admin]}, // lists with list_secrets
					{"test://nothing/{id}", "", nil},
				} {
					got, err := complete(c, tc.uri, tc.value)
					switch {
					case tc.want == nil && err == nil:
						t.Errorf("%s: completed %v, want a refusal", tc.uri, got)
					case tc.want == nil && strings.Contains(err.Error(), "top-secret-name"):
						t.Errorf("%s: the refusal reveals a name: %v", tc.uri, err)
					case tc.want != nil && (err != nil || !slices.Equal(got, tc.want)):
						t.Errorf("%s %q: %v, %v; want %v", tc.uri, tc.value, got, err, tc.want)
					}
				}
			})
		}
	}
	var allowed, denied int
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] != string(audit.EventCompletion) || r["resource"] == nil {
			continue
		}
		if r["decision"] == string(audit.DecisionAllowed) {
			allowed++
		} else {
			denied++
		}
	}
	// Per transport: readonly 2 allowed, 3 refused; admin 4 allowed, 1 refused.
	if allowed != 12 || denied != 8 {
		t.Errorf("completion records naming a template: %d allowed, %d refused; want 12 and 8", allowed, denied)
	}
}
