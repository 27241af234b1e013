// SPDX-License-Identifier: Apache-2.0

package toolstest_test

import (
	"context"
	"errors"
	"strings"
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
	return []tools.Spec{tools.TypedSpec[echoArgs, echoOut]{
		Name: "echo", Title: "Echo", Description: "says it back", Scope: auth.ScopeReadonly, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(_ context.Context, in echoArgs) (echoOut, error) {
			if in.Fail {
				return echoOut{}, errors.New("asked to fail")
			}
			return echoOut{Said: in.Say}, nil
		},
	}.Spec()}
}

// TestHarness: a call through the harness's server and client succeeds,
// decodes and is audited; a tool error is an error result; a caller
// without the scope does not see the tool.
func TestHarness(t *testing.T) {
	s := toolstest.New(t, []tools.Toolset{echo{}}, nil)
	c := s.Client(t)
	if got := toolstest.OK[echoOut](t, s, c, "echo", map[string]any{"say": "hi"}); got.Said != "hi" {
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
