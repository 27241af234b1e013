// SPDX-License-Identifier: Apache-2.0

package approvals

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
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
	c := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t, auth.ScopeApprovalsGrant)
	for tool, args := range map[string]map[string]any{"list_approvals": nil, "approve_request": {"id": "x"}, "deny_request": {"id": "x"}} {
		if got := toolstest.Err(t, c, tool, args); got != errNoTwoPerson.Error() {
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
	if res := toolstest.Call(t, c, "list_approvals", nil); res.IsError {
		t.Fatalf("list_approvals with the gate open: %s", toolstest.Text(res))
	}
	if got := toolstest.Err(t, c, "approve_request", map[string]any{"id": "no-such"}); got == errNoTwoPerson.Error() {
		t.Errorf("approve_request did not reach the gate: %q", got)
	}
}
