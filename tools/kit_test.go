// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
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

func resultText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

var schemaCache sync.Map // tool name → *jsonschema.Schema

func checkOutputSchema(t testing.TB, s Spec, doc []byte) {
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
