// SPDX-License-Identifier: Apache-2.0

package server

import (
	"os"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
)

// TestReadOnlyCallWithLogGoneIsRefused: a read-only call, checked
// without a stat of the audit log before it runs, is still answered with
// an error naming the audit log, not its result, when the log file was
// removed before anything noticed; the next call is refused up front.
func TestReadOnlyCallWithLogGoneIsRefused(t *testing.T) {
	cs := startChokeServer(t)
	c := cs.client(t, false, "reader", auth.ScopeReadonly)
	call := func() (string, bool) {
		res, err := c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "see"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Content[0].(mcp.TextContent).Text, res.IsError
	}
	if text, isErr := call(); isErr {
		t.Fatalf("see: %s", text)
	}
	if err := os.Remove(cs.logPath); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		text, isErr := call()
		if !isErr || !strings.Contains(text, "the audit log cannot be written") || strings.Contains(text, "see ran") {
			t.Errorf("call %d after the log was removed: %v %q, want an error naming the audit log and no result", i+1, isErr, text)
		}
	}
	if _, err := os.Stat(cs.logPath); err == nil {
		t.Error("a record was written to a new file at the removed log's path")
	}
}
