// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// resultSeeds are member answers: results, results without content, and
// answers that are not results.
var resultSeeds = []string{
	`{"content":[{"type":"text","text":"ok"}]}`,
	`{"content":[{"type":"text","text":"no"}],"isError":true}`,
	`{"content":[],"structuredContent":{"a":1}}`,
	`{"structuredContent":{"a":1}}`,
	`{"structuredContent":null}`,
	`{"structuredContent":false}`,
	`{"content":null}`,
	`{"resultType":"input_required","requestState":"s"}`,
	`{"_meta":{"k":"v"},"content":[{"type":"text","text":"x"}]}`,
	`{"content":[{"type":"nope"}]}`,
	`{}`,
	`[]`,
	`null`,
	`{"content":`,
}

// TestParseResult: a member's result is read as mcp.ParseCallToolResult
// reads it, decoded once.
func TestParseResult(t *testing.T) {
	for _, s := range resultSeeds {
		t.Run(s, func(t *testing.T) { sameAsMCP(t, []byte(s)) })
	}
}

// FuzzParseResult: whatever a member answers, parseResult accepts what
// mcp.ParseCallToolResult accepts, and reads the same result.
func FuzzParseResult(f *testing.F) {
	for _, s := range resultSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsMCP)
}

// sameAsMCP fails t unless parseResult and mcp.ParseCallToolResult read b
// the same.
func sameAsMCP(t *testing.T, b []byte) {
	raw := json.RawMessage(b)
	want, wantErr := mcp.ParseCallToolResult(&raw)
	got, err := parseResult(raw)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("parseResult(%q) = %v; mcp.ParseCallToolResult: %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("parseResult(%q) = %+v; mcp.ParseCallToolResult: %+v", b, got, want)
	}
}

// TestEnvelope: the request written by hand is the JSON-RPC request
// json.Marshal would write.
func TestEnvelope(t *testing.T) {
	for _, c := range []struct {
		method mcp.MCPMethod
		params string
	}{
		{mcp.MethodToolsCall, `{"name":"health_check","arguments":{"node":"a<b>&"}}`},
		{mcp.MethodToolsList, `{}`},
		{mcp.MethodToolsList, `{"cursor":"\u2028"}`},
	} {
		b, err := envelope(c.method, []byte(c.params))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": c.method, "params": json.RawMessage(c.params)})
		var g, w any
		if json.Unmarshal(b, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("envelope(%s, %s) = %s, want %s", c.method, c.params, b, want)
		}
		if !strings.HasPrefix(string(b), `{"jsonrpc":"2.0","id":1,"method":"`+string(c.method)+`"`) {
			t.Errorf("envelope = %s", b)
		}
	}
}
