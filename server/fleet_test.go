// SPDX-License-Identifier: Apache-2.0

package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
)

// TestTakeNode: the node argument leaves the arguments — the decoded map
// and the raw JSON the tools decode — whichever form the call came in.
func TestTakeNode(t *testing.T) {
	tests := []struct {
		name     string
		req      mcp.CallToolParams
		wantNode string
		wantErr  string
		wantArgs string // the arguments after, as JSON
	}{
		{name: "map", req: mcp.CallToolParams{Arguments: map[string]any{"node": "nas", "lines": 5.0}}, wantNode: "nas", wantArgs: `{"lines":5}`},
		{name: "raw and map", req: mcp.CallToolParams{Arguments: map[string]any{"node": "nas", "id": 9007199254740993.0},
			RawArguments: json.RawMessage(`{"node":"nas","id":9007199254740993}`)}, wantNode: "nas", wantArgs: `{"id":9007199254740993}`},
		{name: "raw in Arguments", req: mcp.CallToolParams{Arguments: json.RawMessage(`{"node":"pi"}`)}, wantNode: "pi", wantArgs: `{}`},
		{name: "absent", req: mcp.CallToolParams{Arguments: map[string]any{"lines": 5.0}}, wantArgs: `{"lines":5}`},
		{name: "no arguments", req: mcp.CallToolParams{}, wantArgs: `null`},
		{name: "not a string", req: mcp.CallToolParams{Arguments: map[string]any{"node": 7.0}}, wantErr: "want the name or address"},
		{name: "raw not a string", req: mcp.CallToolParams{RawArguments: json.RawMessage(`{"node":["a"]}`)}, wantErr: "want the name or address"},
		{name: "not an object", req: mcp.CallToolParams{RawArguments: json.RawMessage(`[1]`)}, wantArgs: `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mcp.CallToolRequest{Params: tt.req}
			node, err := takeNode(&req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || node != tt.wantNode {
				t.Fatalf("takeNode = %q, %v; want %q", node, err, tt.wantNode)
			}
			var got []byte
			switch raw := req.GetRawArguments().(type) {
			case json.RawMessage:
				got = raw
			default:
				got, _ = json.Marshal(raw)
			}
			if string(got) != tt.wantArgs {
				t.Errorf("arguments after: %s, want %s", got, tt.wantArgs)
			}
			if m, ok := req.Params.Arguments.(map[string]any); ok {
				if _, left := m[NodeArg]; left {
					t.Errorf("node left in the decoded arguments: %v", m)
				}
			}
		})
	}
}

// TestWithNodeArg: a fleet entry node lists every tool with an optional
// string node argument, and refuses a tool that has one of its own.
func TestWithNodeArg(t *testing.T) {
	tool := mcp.NewTool("t", mcp.WithString("path", mcp.Required()))
	got, err := withNodeArg(tool)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]map[string]any `json:"properties"`
		Required   []string                  `json:"required"`
	}
	if err := json.Unmarshal(got.RawInputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Properties[NodeArg]["type"] != "string" || schema.Properties["path"] == nil || len(schema.Required) != 1 {
		t.Errorf("schema with node: %s", got.RawInputSchema)
	}
	if _, err := withNodeArg(mcp.NewTool("u", mcp.WithString(NodeArg))); err == nil || !strings.Contains(err.Error(), `argument named "node"`) {
		t.Errorf("a tool with its own node argument: %v", err)
	}
}

// TestForwardable: a call that came through an entry node goes no
// further.
func TestForwardable(t *testing.T) {
	if why := forwardable(&auth.Caller{}, "nas"); why != "" {
		t.Errorf("a direct call: %s", why)
	}
	if why := forwardable(&auth.Caller{Via: &auth.TailscaleIdentity{NodeName: "entry"}}, "nas"); !strings.Contains(why, "cannot be forwarded again") {
		t.Errorf("a forwarded call: %q", why)
	}
}

// FuzzTakeNode: whatever the arguments, takeNode never panics, never
// leaves node in them, and never changes the other arguments.
func FuzzTakeNode(f *testing.F) {
	for _, s := range []string{`{"node":"nas","lines":5}`, `{"node":7}`, `[1]`, `{}`, `null`, `{"node":"a","node":"b"}`, `{"a":{"node":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := mcp.CallToolRequest{Params: mcp.CallToolParams{RawArguments: raw}}
		var before map[string]any
		isObject := json.Unmarshal(raw, &before) == nil && before != nil
		if _, err := takeNode(&req); err != nil {
			return
		}
		if !isObject {
			return
		}
		var after map[string]any
		if err := json.Unmarshal(req.Params.RawArguments, &after); err != nil {
			t.Fatalf("arguments %s became %s: %v", raw, req.Params.RawArguments, err)
		}
		if _, left := after[NodeArg]; left {
			t.Fatalf("node left in %s", req.Params.RawArguments)
		}
		delete(before, NodeArg)
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		if string(b1) != string(b2) {
			t.Fatalf("other arguments changed: %s → %s", b1, b2)
		}
	})
}
