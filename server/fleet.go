// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// NodeArg is the argument every tool gains on a fleet entry node: the
// fleet member the call is for (package fleet); empty or absent, this
// node.
const NodeArg = "node"

// Forwarder sends tool calls to the other TailOps nodes of a fleet
// (fleet.Fleet).
type Forwarder interface {
	// Self reports whether node names this node (or is empty).
	Self(ctx context.Context, node string) bool
	// Call calls tool with args on the member node with the caller's own
	// credentials from ctx, declaring caps for the caller, retried with
	// answer when it is set, and returns the member's result as it sent
	// it (an input_required result included).
	Call(ctx context.Context, node, tool string, args any, caps mcp.ClientCapabilities, answer mcp.MultiRoundTripParams) (*mcp.CallToolResult, error)
}

// withNodeArg returns t with the optional node argument in its input
// schema, as a fleet entry node lists it.
func withNodeArg(t mcp.Tool) (mcp.Tool, error) {
	raw := t.RawInputSchema
	if raw == nil {
		b, err := json.Marshal(t.InputSchema)
		if err != nil {
			return t, fmt.Errorf("encoding %s input schema: %w", t.Name, err)
		}
		raw = b
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return t, fmt.Errorf("decoding %s input schema: %w", t.Name, err)
	}
	props, _ := schema["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	if _, taken := props[NodeArg]; taken {
		return t, fmt.Errorf("tool %s has an argument named %q, which a fleet entry node adds to every tool", t.Name, NodeArg)
	}
	props[NodeArg] = map[string]any{"type": "string",
		"description": "the fleet member to run this on, by tailnet name or address (list_hosts lists them); empty: this node"}
	schema["properties"] = props
	b, err := json.Marshal(schema)
	if err != nil {
		return t, fmt.Errorf("encoding %s input schema: %w", t.Name, err)
	}
	t.RawInputSchema, t.InputSchema = b, mcp.ToolInputSchema{}
	return t, nil
}

// takeNode removes the node argument from req's arguments, returning
// it: "" when absent. A node argument that is not a string is an error.
// The arguments' raw JSON, which the tools decode, loses the key too.
func takeNode(req *mcp.CallToolRequest) (string, error) {
	var node any
	found := false
	raw := req.Params.RawArguments
	if r, ok := req.Params.Arguments.(json.RawMessage); ok && len(raw) == 0 {
		raw = r
	}
	if len(raw) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return "", nil // not an object: the schema check says so
		}
		v, ok := m[NodeArg]
		if !ok {
			return "", nil
		}
		if err := json.Unmarshal(v, &node); err != nil {
			return "", fmt.Errorf("%s: %w", NodeArg, err)
		}
		delete(m, NodeArg)
		b, err := json.Marshal(m)
		if err != nil {
			return "", fmt.Errorf("re-encoding the arguments: %w", err)
		}
		found = true
		if len(req.Params.RawArguments) > 0 {
			req.Params.RawArguments = b
		} else {
			req.Params.Arguments = json.RawMessage(b)
		}
	}
	if args, ok := req.Params.Arguments.(map[string]any); ok {
		if v, ok := args[NodeArg]; ok {
			node, found = v, true
			req.Params.Arguments = withoutNode(args)
		}
	}
	if !found {
		return "", nil
	}
	n, ok := node.(string)
	if !ok {
		return "", fmt.Errorf("%s: want the name or address of a fleet member, got %T", NodeArg, node)
	}
	return n, nil
}

// withoutNode is a call's decoded arguments without the node argument,
// as the call runs once takeNode has taken it: what a confirmation this
// node asked is bound to.
func withoutNode(args any) any {
	m, ok := args.(map[string]any)
	if _, has := m[NodeArg]; !ok || !has {
		return args
	}
	rest := maps.Clone(m)
	delete(rest, NodeArg)
	return rest
}

// forwardable decides whether a call for node may leave this node: a
// call that a fleet entry node forwarded here goes no further.
func forwardable(c *auth.Caller, node string) string {
	if c != nil && c.Via != nil {
		return fmt.Sprintf("a call forwarded by %s cannot be forwarded again (to %s): call the member directly or through one entry node", c.Via.NodeName, node)
	}
	return ""
}

// forwardError is the tool error of a forward that failed: the member's
// or the tailnet's message, with anything secret-looking redacted.
func forwardError(err error) *mcp.CallToolResult {
	return mcp.NewToolResultError(redact.Text(err.Error()))
}
