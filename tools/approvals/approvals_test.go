// SPDX-License-Identifier: Apache-2.0

package approvals

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/toolstest"
)

// TestGateIsResolvedAtCallTime: the tools are declared before the server
// opens its gate; until it has one they say two-person approval is off,
// and once it has one they use it, without being declared again.
func TestGateIsResolvedAtCallTime(t *testing.T) {
	t.Parallel()
	var gate *approval.Gate
	ts, err := New(Config{Gate: func() *approval.Gate { return gate }})
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error){}
	for _, s := range ts.Tools() {
		specs[s.Name()] = s.Handler
	}
	ctx := auth.WithCaller(context.Background(), &auth.Caller{Agent: "approver", Scopes: []auth.Scope{auth.ScopeApprovalsGrant}})
	call := func(tool string, args map[string]any) *mcp.CallToolResult {
		res, err := specs[tool](ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tool := range []string{"list_approvals", "approve_request", "deny_request"} {
		if got := toolstest.ErrorText(t, tool, call(tool, map[string]any{"id": "x"}), nil); got != errNoTwoPerson.Error() {
			t.Errorf("%s without a gate: %q", tool, got)
		}
	}
	store, err := approval.OpenStore(filepath.Join(t.TempDir(), "approvals.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if gate, err = approval.NewGate(approval.Config{Store: store, TwoPerson: true,
		Audit: func(context.Context, *audit.Record) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	res := call("list_approvals", nil)
	if res.IsError {
		t.Fatalf("list_approvals with the gate open: %s", toolstest.Text(res))
	}
	if got := toolstest.ErrorText(t, "approve_request", call("approve_request", map[string]any{"id": "no-such"}), nil); got == errNoTwoPerson.Error() {
		t.Errorf("approve_request did not reach the gate: %q", got)
	}
}
