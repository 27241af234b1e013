// SPDX-License-Identifier: Apache-2.0

package toolstest

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
)

// The helpers below serve the domain packages' own test kits, which call
// a tool's handler directly (tools/files, tools/docker, tools/diag...).

// DecodeOK checks that res, the result of calling s with args, succeeded,
// that its structured content matches the tool's output schema, and
// decodes it.
func DecodeOK[T any](t testing.TB, s tools.Spec, res *mcp.CallToolResult, args map[string]any) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s %v: unexpected error: %s", s.Name(), args, Text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	CheckOutputSchema(t, s, b)
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %s result: %v", s.Name(), err)
	}
	return out
}

// ErrorText checks that res, the result of calling tool with args, is a
// tool error, and returns its text.
func ErrorText(t testing.TB, tool string, res *mcp.CallToolResult, args map[string]any) string {
	t.Helper()
	if !res.IsError {
		t.Fatalf("%s %v: succeeded, want an error: %s", tool, args, Text(res))
	}
	return Text(res)
}
