// SPDX-License-Identifier: Apache-2.0

package tools

import "github.com/mark3labs/mcp-go/mcp"

// Text TailOps did not write — log lines, file contents, a command's
// output, an HTTP body — can carry instructions aimed at the model
// (prompt injection through logs). Tools that return it say so: their
// tools/list entry has UntrustedOutputMeta, and every text of their
// results (errors too: they can quote the same text) has UntrustedMeta,
// so a client can frame it as data.
const (
	// UntrustedOutputMeta is the _meta key, true on a tool's declaration,
	// of tools whose results carry text from outside.
	UntrustedOutputMeta = "tailops.dev/untrusted-output"
	// UntrustedMeta is the _meta key, true on a result and on each of its
	// text contents, of text from outside.
	UntrustedMeta = "tailops.dev/untrusted"
)

// markUntrustedTool marks a tool's declaration.
func markUntrustedTool(t *mcp.Tool) {
	if t.Meta == nil {
		t.Meta = &mcp.Meta{}
	}
	if t.Meta.AdditionalFields == nil {
		t.Meta.AdditionalFields = map[string]any{}
	}
	t.Meta.AdditionalFields[UntrustedOutputMeta] = true
}

// MarkUntrusted marks res, and each of its text contents, as text from
// outside.
func MarkUntrusted(res *mcp.CallToolResult) {
	if res == nil {
		return
	}
	mark := func() *mcp.Meta { return &mcp.Meta{AdditionalFields: map[string]any{UntrustedMeta: true}} }
	if res.Meta == nil {
		res.Meta = mark()
	} else {
		if res.Meta.AdditionalFields == nil {
			res.Meta.AdditionalFields = map[string]any{}
		}
		res.Meta.AdditionalFields[UntrustedMeta] = true
	}
	for i, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			t.Meta = mark()
			res.Content[i] = t
		}
	}
}

// UntrustedOutput reports whether s's results carry text from outside.
func (s *Spec) UntrustedOutput() bool {
	return s.Tool.Meta != nil && s.Tool.Meta.AdditionalFields[UntrustedOutputMeta] == true
}
