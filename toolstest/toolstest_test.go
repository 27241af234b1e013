// SPDX-License-Identifier: Apache-2.0

package toolstest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// echo is a toolset of one tool that echoes its input, or fails.
type echo struct{}

type echoArgs struct {
	Say  string `json:"say"`
	Fail bool   `json:"fail,omitempty"`
}

type echoOut struct {
	Said string `json:"said"`
}

func (echo) Name() string { return "echo" }

func (echo) Tools() []tools.Spec {
	return []tools.Spec{shout, tools.TypedSpec[echoArgs, echoOut]{
		Name: "echo", Title: "Echo", Description: "says it back", Scope: auth.ScopeReadonly, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(_ context.Context, in echoArgs) (echoOut, error) {
			if in.Fail {
				return echoOut{}, errors.New("asked to fail")
			}
			return echoOut{Said: in.Say}, nil
		},
	}.Spec()}
}

// shout is a critical echo: it needs approval.
var shout = tools.TypedSpec[echoArgs, echoOut]{
	Name: "shout", Title: "Shout", Description: "says it back, loudly", Scope: auth.ScopeAdmin, Risk: tools.RiskCritical,
	Run: func(_ context.Context, in echoArgs) (echoOut, error) {
		return echoOut{Said: strings.ToUpper(in.Say)}, nil
	},
}.Spec()

// TestApprove: without a gate a critical tool is refused; with Approve
// it runs, approved by the harness's webhook, and the audit log says so.
func TestApprove(t *testing.T) {
	t.Parallel()
	args := map[string]any{"say": "hi"}
	if msg := toolstest.Err(t, toolstest.New(t, []tools.Toolset{echo{}}, nil).Client(t), "shout", args); !strings.Contains(msg, "approval required") {
		t.Errorf("without a gate: %q", msg)
	}
	s := toolstest.New(t, []tools.Toolset{echo{}}, &toolstest.Options{Approve: true})
	if got := toolstest.OK[echoOut](t, s.Client(t), "shout", args); got.Said != "HI" {
		t.Errorf("shout said %q", got.Said)
	}
	approved := false
	for _, r := range s.Records(t) {
		if r["event"] == "tool_call" && r["tool"] == "shout" && r["approval"] != nil {
			approved = true
		}
	}
	if !approved {
		t.Errorf("no approved tool_call record of shout in %v", s.Records(t))
	}
}

// TestHarness: a call through the harness's server and client succeeds,
// decodes and is audited; a tool error is an error result; a caller
// without the scope does not see the tool.
func TestHarness(t *testing.T) {
	t.Parallel()
	s := toolstest.New(t, []tools.Toolset{echo{}}, nil)
	c := s.Client(t)
	if got := toolstest.OK[echoOut](t, c, "echo", map[string]any{"say": "hi"}); got.Said != "hi" {
		t.Errorf("echo said %q", got.Said)
	}
	if msg := toolstest.Err(t, c, "echo", map[string]any{"say": "x", "fail": true}); msg != "asked to fail" {
		t.Errorf("error text %q", msg)
	}
	var calls int
	for _, r := range s.Records(t) {
		if r["event"] == "tool_call" && r["tool"] == "echo" {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("%d audit records of echo, want 2", calls)
	}
	lt, err := s.Client(t, auth.ScopeFileRead).ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range lt.Tools {
		if strings.EqualFold(tl.Name, "echo") {
			t.Error("a caller without readonly sees echo")
		}
	}
}

// TestHandlers: a direct call validates the arguments as the server does,
// answering invalid ones with a tool error, and runs the handler.
func TestHandlers(t *testing.T) {
	t.Parallel()
	h := toolstest.Direct(echo{}.Tools())
	if got := toolstest.OK[echoOut](t, h, "echo", map[string]any{"say": "hi"}); got.Said != "hi" {
		t.Errorf("echo said %q", got.Said)
	}
	if msg := toolstest.Err(t, h, "echo", map[string]any{"say": "x", "fail": true}); msg != "asked to fail" {
		t.Errorf("error text %q", msg)
	}
	if msg := toolstest.Err(t, h, "echo", map[string]any{"say": 1}); !strings.Contains(msg, "say") {
		t.Errorf("invalid argument: %q", msg)
	}
	if sp := h.Spec(t, "echo"); sp.Name() != "echo" {
		t.Error("Spec returned another tool")
	}
}

// TestLogBuffer: writes from several goroutines all land.
func TestLogBuffer(t *testing.T) {
	t.Parallel()
	var l toolstest.LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { l.Write([]byte("x")) })
	}
	wg.Wait()
	if got := l.String(); got != "xxxxxxxx" {
		t.Errorf("got %q", got)
	}
}
