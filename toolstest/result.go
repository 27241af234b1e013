// SPDX-License-Identifier: Apache-2.0

// Package toolstest helps test toolsets: it checks a tool call's result
// against the tool's declared output schema and decodes it. The domain
// packages' test kits (tools/files, tools/docker, tools/diag...) share it.
package toolstest

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tailops/tailops/tools"
)

// DecodeOK checks that res, the result of calling s with args, succeeded,
// that its structured content matches the tool's output schema, and
// decodes it.
func DecodeOK[T any](t testing.TB, s tools.Spec, res *mcp.CallToolResult, args map[string]any) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s %v: unexpected error: %s", s.Name(), args, ResultText(res))
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
		t.Fatalf("%s %v: succeeded, want an error: %s", tool, args, ResultText(res))
	}
	return ResultText(res)
}

// ResultText returns the text of res's first text content, "" when it
// has none.
func ResultText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

var schemaCache sync.Map // tool name → *jsonschema.Schema

// CheckOutputSchema checks doc, a tool's structured result, against the
// output schema s declares.
func CheckOutputSchema(t testing.TB, s tools.Spec, doc []byte) {
	t.Helper()
	v, ok := schemaCache.Load(s.Name())
	if !ok {
		raw, err := json.Marshal(s.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		url := "mem:///out/" + s.Name() + ".json"
		if err := c.AddResource(url, sd); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("compiling %s output schema: %v", s.Name(), err)
		}
		v, _ = schemaCache.LoadOrStore(s.Name(), sch)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*jsonschema.Schema).Validate(inst); err != nil {
		t.Fatalf("%s result does not match its output schema: %v\n%s", s.Name(), err, doc)
	}
}
