// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// Large results as resource links. A tool whose resource view declares
// Link (read_file, get_container_logs) answers a call whose text is
// larger than Config.InlineMax with a resource_link to the view's URI
// for the same arguments, instead of the text: the client reads it with
// resources/read, which passes the choke point as the view's read. Its
// structured result keeps everything but the fields the link stands for
// (tools.ResourceView.Omit), emptied, and names the URI in
// tools.LinkField.
//
// A link is made only where the caller can read it, here, for the same
// content: the client speaks a protocol revision with resource links
// (2025-06-18 or later); the call was not forwarded by a fleet entry node
// (the entry node would read its own resource); the read would not wait
// for approval. When the tool is one the user confirms in the client
// (Config.Confirm), the confirmed call lets this caller, for linkTTL,
// read that one URI, which a resource read could not ask for.

// DefaultInlineMax is the text a result carries inline before it is
// linked instead, in bytes.
const DefaultInlineMax = 256 << 10

// linksSince is the first protocol revision with resource_link content.
const linksSince = "2025-06-18"

// linkTTL is how long a confirmed call's link may be read.
const linkTTL = confirmTTL

// maxLinkGrants bounds the links of confirmed calls kept; past it the
// oldest is dropped (its read is refused: call the tool again).
const maxLinkGrants = 1024

// linkGrants are the links confirmed calls returned, by linkKey, with
// when each expires.
type linkGrants struct {
	mu    sync.Mutex
	until map[string]time.Time
	order []string
}

// grant lets key be read until now+linkTTL.
func (g *linkGrants) grant(key string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until == nil {
		g.until = map[string]time.Time{}
	}
	if _, ok := g.until[key]; !ok {
		g.order = append(g.order, key)
	}
	g.until[key] = now.Add(linkTTL)
	for len(g.order) > maxLinkGrants || len(g.order) > 0 && now.After(g.until[g.order[0]]) {
		delete(g.until, g.order[0])
		g.order = g.order[1:]
	}
}

// has reports whether key may be read at now.
func (g *linkGrants) has(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.until[key]
	return ok && !now.After(until)
}

// linkKey binds a confirmed call's link to its caller and URI.
func linkKey(c *auth.Caller, uri string) string { return confirmBinding(c, "resource "+uri, nil) }

// declare checks the view against its tool's declaration and learns the
// types of the arguments its query sets: each query parameter must be
// one of the tool's arguments, and a tool linked to the view must have
// tools.LinkField and the fields the link stands for in its output
// schema.
func (v *view) declare(t *tools.Spec) error {
	in, err := schemaProps(t.Tool.RawInputSchema, t.Tool.InputSchema)
	if err != nil {
		return fmt.Errorf("resource view %s: tool %s's input schema: %w", v.spec.URI, t.Name(), err)
	}
	v.types = map[string]string{}
	for _, q := range v.spec.Query {
		typ, ok := in[q]
		if !ok {
			return fmt.Errorf("resource view %s: query parameter %s is not an argument of tool %s", v.spec.URI, q, t.Name())
		}
		v.types[q] = typ
	}
	if v.spec.Link == nil {
		return nil
	}
	out, err := schemaProps(t.Tool.RawOutputSchema, t.Tool.OutputSchema)
	if err != nil {
		return fmt.Errorf("resource view %s: tool %s's output schema: %w", v.spec.URI, t.Name(), err)
	}
	for _, f := range append([]string{tools.LinkField}, v.spec.Omit...) {
		if _, ok := out[f]; !ok {
			return fmt.Errorf("resource view %s: links tool %s's results, whose output schema has no field %s", v.spec.URI, t.Name(), f)
		}
	}
	return nil
}

// schemaProps returns the type of each top-level property of a JSON
// Schema (raw, else schema encoded): its type; string when it takes a
// string among others; else the first of its types but null.
func schemaProps(raw json.RawMessage, schema any) (map[string]string, error) {
	if raw == nil {
		b, err := json.Marshal(schema)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	var root jsonschema.Schema
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	props := map[string]string{}
	for name, p := range root.Properties {
		if p == nil {
			continue
		}
		one := p.Type
		if one == "" && slices.Contains(p.Types, "string") {
			one = "string"
		} else if one == "" {
			for _, t := range p.Types {
				if t != "null" {
					one = t
					break
				}
			}
		}
		props[name] = one
	}
	return props, nil
}

// linkResult is res, or, when its text is larger than InlineMax and the
// tool's view can stand for it for this caller, the result that links
// to the view instead (see above).
func (s *Server) linkResult(ctx context.Context, e *entry, c *auth.Caller, args map[string]any, res *mcp.CallToolResult) *mcp.CallToolResult {
	v := s.links[e.name]
	if v == nil || s.inlineMax <= 0 || res == nil || res.IsError || c != nil && c.Via != nil {
		return res
	}
	size := textSize(res)
	if size <= s.inlineMax || !linksSpoken(ctx) {
		return res
	}
	vals, ok := v.spec.Link(args)
	if !ok || s.needsApproval(e, args) {
		return res
	}
	uri, ok := v.expand(vals)
	if !ok {
		return res
	}
	structured, err := omitFields(res.StructuredContent, v.spec.Omit, uri)
	if err != nil {
		s.log.Warn("inlining a large result: its structured content cannot be linked", slog.String("tool", e.name), slog.Any("error", err))
		return res
	}
	if s.confirm[e.name] {
		s.linked.grant(linkKey(c, uri), time.Now())
	}
	n := int64(size)
	link := mcp.NewResourceLink(uri, v.spec.Name, v.spec.Description, v.spec.MIMEType)
	link.Size = &n
	out := *res
	out.StructuredContent = structured
	what := "text"
	if len(v.spec.Omit) > 0 {
		what = "text and " + strings.Join(v.spec.Omit, " and ")
	}
	out.Content = []mcp.Content{
		mcp.NewTextContent(fmt.Sprintf("The result is %d bytes of text, more than this server puts in a result (%d, --inline-max): its %s is the resource %s; read it with resources/read, or call %s again asking for less.",
			size, s.inlineMax, what, uri, e.name)),
		link,
	}
	if e.spec.UntrustedOutput() {
		tools.MarkUntrusted(&out) // the text quotes the caller's path or container name
	}
	return &out
}

// linksSpoken reports whether the request's protocol revision has
// resource_link content.
func linksSpoken(ctx context.Context) bool {
	return mcpserver.RequestProtocolVersion(ctx) >= linksSince
}

// textSize is the bytes of res's text contents as one text, as
// joinTexts joins them (a resource read of the view gives that text).
func textSize(res *mcp.CallToolResult) int {
	n, seen, last := 0, false, ""
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			if seen && !strings.HasSuffix(last, "\n") {
				n++
			}
			n, seen, last = n+len(t.Text), true, t.Text
		}
	}
	return n
}

// omitFields returns structured with the fields omit names emptied (an
// empty string, array or object, zero or false, as each was) and
// tools.LinkField set to uri.
func omitFields(structured any, omit []string, uri string) (map[string]json.RawMessage, error) {
	if structured == nil {
		return nil, fmt.Errorf("no structured content")
	}
	b, err := json.Marshal(structured)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, f := range omit {
		old, ok := m[f]
		if !ok || len(old) == 0 {
			continue
		}
		switch old[0] {
		case '"':
			m[f] = json.RawMessage(`""`)
		case '[':
			m[f] = json.RawMessage(`[]`)
		case '{':
			m[f] = json.RawMessage(`{}`)
		case 't', 'f':
			m[f] = json.RawMessage(`false`)
		case 'n':
		default:
			m[f] = json.RawMessage(`0`)
		}
	}
	u, err := json.Marshal(uri)
	if err != nil {
		return nil, err
	}
	m[tools.LinkField] = u
	return m, nil
}
