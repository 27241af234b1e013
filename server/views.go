// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// A resource view (tools.ResourceView) is a read-only tool's result
// served as a resource. It passes the choke point as the tool: decide
// answers for the URI what it answers for the tool, so the HTTP scope
// check, resources/list, resources/templates/list and resources/read
// agree, and the read is recorded as a resource_read naming the URI.

// view is a registered resource view and the template it matches.
type view struct {
	spec     tools.ResourceView
	template *mcp.URITemplate
}

// match returns the view's variables in uri; false when uri is not one
// of the view's.
func (v *view) match(uri string) (map[string]string, bool) {
	if !v.spec.Templated() {
		return nil, uri == v.spec.URI
	}
	m := v.template.Match(uri)
	if m == nil {
		return nil, false
	}
	vars := map[string]string{}
	for _, name := range v.template.Varnames() {
		vars[name] = m.Get(name).String()
	}
	return vars, true
}

// addViews registers the views whose tool this server serves: a view
// of a tool that is disabled is not offered at all. A view's tool must be
// read-only and below critical risk.
func (s *Server) addViews(specs []tools.ResourceView) error {
	for _, spec := range specs {
		if err := spec.Validate(); err != nil {
			return err
		}
		e := s.entries[entryKey{KindTool, spec.Tool}]
		if e == nil {
			continue
		}
		if !e.spec.ReadOnly() || e.risk >= tools.RiskCritical {
			return fmt.Errorf("resource view %s: tool %s is not read-only, or is critical", spec.URI, spec.Tool)
		}
		v := &view{spec: spec}
		if spec.Templated() {
			// A view carries its tool's icon: its toolset's.
			t := mcp.NewResourceTemplate(spec.URI, spec.Name, mcp.WithTemplateDescription(spec.Description), mcp.WithTemplateMIMEType(spec.MIMEType),
				mcp.WithTemplateIcons(e.spec.Tool.Icons...))
			v.template = t.URITemplate
			s.mcp.AddResourceTemplate(t, mcpserver.ResourceTemplateHandlerFunc(s.readView(v)))
		} else {
			s.mcp.AddResource(mcp.NewResource(spec.URI, spec.Name, mcp.WithResourceDescription(spec.Description), mcp.WithMIMEType(spec.MIMEType),
				mcp.WithResourceIcons(e.spec.Tool.Icons...)), s.readView(v))
		}
		s.views = append(s.views, v)
	}
	return nil
}

// decideView is decide for a resource URI that a view serves: the
// decision on its tool; false when no view serves uri.
func (s *Server) decideView(c *auth.Caller, uri string) (verdict, bool) {
	for _, v := range s.views {
		if _, ok := v.match(uri); ok {
			tv := s.decide(c, KindTool, v.spec.Tool)
			if !tv.Allowed {
				tv.Reason = fmt.Sprintf("resource %s is read with tool %s: %s", uri, v.spec.Tool, tv.Reason)
			}
			return tv, true
		}
	}
	return verdict{}, false
}

// readView reads a view: decide, check the arguments, run the tool,
// record.
func (s *Server) readView(v *view) mcpserver.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		start := time.Now()
		c := auth.CallerFrom(ctx)
		uri := req.Params.URI
		vars, ok := v.match(uri)
		var args map[string]any
		if ok && v.spec.Args != nil {
			args = v.spec.Args(vars)
		}
		verd := s.decide(c, KindResource, uri)
		rec := request(KindResource, uri, args, c, verd)
		if verd.Allowed && !ok {
			verd = verdict{Reason: fmt.Sprintf("resource %s is not one of %s", uri, v.spec.URI)}
			rec = deny(rec, verd.Reason, nil)
		}
		if verd.Allowed {
			if err := verd.entry.check(args); err != nil {
				verd.Allowed = false
				rec = deny(rec, "invalid resource URI: "+err.Error(), nil)
			} else if s.needsApproval(verd.entry, args) {
				verd.Allowed = false
				rec = deny(rec, fmt.Sprintf("tool %s needs approval here: call it as a tool", v.spec.Tool), nil)
			}
		}
		if !verd.Allowed {
			if err := s.write(ctx, rec); err != nil {
				return nil, fmt.Errorf("%s", auditRefusal)
			}
			return nil, fmt.Errorf("%s", rec.Reason)
		}
		call := mcp.CallToolRequest{}
		call.Params.Name, call.Params.Arguments = v.spec.Tool, args
		res, err := verd.entry.spec.Handler(ctx, call)
		var out []mcp.ResourceContents
		if err == nil {
			out, err = viewContents(uri, v.spec.MIMEType, v.spec.Fields, res, verd.entry.spec.UntrustedOutput())
		}
		return out, s.finishContent(ctx, rec, start, err)
	}
}

// viewContents turns a tool's result into the resource's contents: its
// structured content as JSON when the MIME type is JSON (only fields of
// it, when the view names some), else its text; marked
// tools.UntrustedMeta when the tool's output is. A tool error is the
// read's error.
func viewContents(uri, mime string, fields []string, res *mcp.CallToolResult, untrusted bool) ([]mcp.ResourceContents, error) {
	if res == nil {
		return nil, fmt.Errorf("the tool returned nothing")
	}
	var text []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			text = append(text, t.Text)
		}
	}
	if res.IsError {
		return nil, fmt.Errorf("%s", strings.Join(text, "\n"))
	}
	out := mcp.TextResourceContents{URI: uri, MIMEType: mime, Text: strings.Join(text, "\n")}
	if mime == "application/json" && res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return nil, fmt.Errorf("encoding the result: %w", err)
		}
		if b, err = onlyFields(b, fields); err != nil {
			return nil, err
		}
		out.Text = string(b)
	}
	if untrusted {
		out.Meta = map[string]any{tools.UntrustedMeta: true}
	}
	return []mcp.ResourceContents{out}, nil
}

// onlyFields keeps only fields of the JSON object b; all of it when
// fields is empty.
func onlyFields(b []byte, fields []string) ([]byte, error) {
	if len(fields) == 0 {
		return b, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("decoding the result: %w", err)
	}
	some := map[string]json.RawMessage{}
	for _, f := range fields {
		if v, ok := all[f]; ok {
			some[f] = v
		}
	}
	out, err := json.Marshal(some)
	if err != nil {
		return nil, fmt.Errorf("encoding the result's fields: %w", err)
	}
	return out, nil
}

// filterTemplates removes from a resources/templates/list result the
// templates the choke point does not allow the caller.
func (s *Server) filterTemplates(ctx context.Context, _ any, _ *mcp.ListResourceTemplatesRequest, res *mcp.ListResourceTemplatesResult) {
	if res == nil {
		return
	}
	c := auth.CallerFrom(ctx)
	out := res.ResourceTemplates[:0]
	for _, t := range res.ResourceTemplates {
		for _, v := range s.views {
			if v.spec.URI == t.URITemplate.Raw() && s.decide(c, KindTool, v.spec.Tool).Allowed {
				out = append(out, t)
				break
			}
		}
	}
	res.ResourceTemplates = out
}
