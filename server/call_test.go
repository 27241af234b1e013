// SPDX-License-Identifier: Apache-2.0

package server

import (
	"fmt"
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

// TestLongUnknownNamesAreRecordedShort: a caller cannot fill the audit
// disk with a few requests naming something of 1 MiB that does not
// exist: the tool (recorded twice, in the tool and in the reason), the
// resource URI and the prompt are each recorded in a line of a few KiB,
// cut to audit.MaxRecordedText but starting as the caller named it.
func TestLongUnknownNamesAreRecordedShort(t *testing.T) {
	cs := startChokeServer(t)
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	c := cs.clientWith(t, false, "prober", []auth.Scope{auth.ScopeAdmin}, init)
	long := func(start string) string { return start + strings.Repeat("n", 1<<20) }
	for _, tc := range []struct {
		what, name string
		ask        func(name string) error
	}{
		{"tool", long("no_such_tool_"), func(n string) error {
			_, err := c.CallTool(t.Context(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: n}})
			return err
		}},
		{"resource", long("test://nothing/"), func(n string) error {
			_, err := c.ReadResource(t.Context(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: n}})
			return err
		}},
		{"prompt", long("no_such_prompt_"), func(n string) error {
			_, err := c.GetPrompt(t.Context(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: n}})
			return err
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if err := tc.ask(tc.name); err == nil {
				t.Fatalf("a request of an unknown %s succeeded", tc.what)
			}
			line := auditLine(t, cs.logPath, `"`+tc.what+`":"`+tc.name[:20])
			if len(line) > 20<<10 {
				t.Errorf("the %s's record is %d bytes, want at most 20 KiB", tc.what, len(line))
			}
			if marker := fmt.Sprintf("[%d bytes in all, the rest not recorded]", len(tc.name)); !strings.Contains(line, marker) {
				t.Errorf("the %s's record does not say it was cut (%q): %.300s…", tc.what, marker, line)
			}
		})
	}
}
