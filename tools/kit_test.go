// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// decodeOK checks that the result of calling s succeeded, that its
// structured content matches the tool's output schema, and decodes it.
// The per-domain kits (files, Docker, diagnostics) share it.
func decodeOK[T any](t testing.TB, s Spec, res *mcp.CallToolResult, args map[string]any) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s %v: unexpected error: %s", s.Name(), args, resultText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	checkOutputSchema(t, s, b)
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %s result: %v", s.Name(), err)
	}
	return out
}

// errorText checks that a call failed and returns its error text.
func errorText(t testing.TB, tool string, res *mcp.CallToolResult, args map[string]any) string {
	t.Helper()
	if !res.IsError {
		t.Fatalf("%s %v: succeeded, want an error: %s", tool, args, resultText(res))
	}
	return resultText(res)
}
