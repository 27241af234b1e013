// SPDX-License-Identifier: Apache-2.0

// Package toolstest helps test toolsets: it checks a tool call's result
// against the tool's declared output schema and decodes it, and records
// the progress a call reports.
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

// Text returns the text of a result's first text content, or "".
func Text(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

var schemas sync.Map // tool name → *jsonschema.Schema

// CheckOutputSchema fails the test unless doc matches sp's output schema.
func CheckOutputSchema(t testing.TB, sp tools.Spec, doc []byte) {
	t.Helper()
	v, ok := schemas.Load(sp.Name())
	if !ok {
		raw, err := json.Marshal(sp.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		if len(sp.Tool.RawOutputSchema) > 0 {
			raw = sp.Tool.RawOutputSchema
		}
		sd, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		url := "mem:///out/" + sp.Name() + ".json"
		if err := c.AddResource(url, sd); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("compiling %s output schema: %v", sp.Name(), err)
		}
		v, _ = schemas.LoadOrStore(sp.Name(), sch)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*jsonschema.Schema).Validate(inst); err != nil {
		t.Fatalf("%s result does not match its output schema: %v\n%s", sp.Name(), err, doc)
	}
}
