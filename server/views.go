// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/yosida95/uritemplate/v3"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// A resource view (tools.ResourceView) is a read-only tool's result
// served as a resource. It passes the choke point as the tool: decide
// answers for the URI what it answers for the tool, so the HTTP scope
// check, resources/list, resources/templates/list and resources/read
// agree, and the read is recorded as a resource_read naming the URI.

// view is a registered resource view, the template it is listed as
// (its query parameters included) and the template its URI's part
// before the query matches.
type view struct {
	spec     tools.ResourceView
	template *mcp.URITemplate
	base     *mcp.URITemplate
	// types is the JSON Schema type of the tool argument each query
	// parameter sets.
	types map[string]string
}

// match returns the view's variables in uri and its raw query; false
// when uri is not one of the view's. A view without query parameters
// matches uri whole.
func (v *view) match(uri string) (vars map[string]string, query string, ok bool) {
	base := uri
	if len(v.spec.Query) > 0 {
		base, query, _ = strings.Cut(uri, "?")
	}
	if !strings.Contains(v.spec.URI, "{") {
		return nil, query, base == v.spec.URI
	}
	m := v.base.Match(base)
	if m == nil {
		return nil, "", false
	}
	vars = map[string]string{}
	for _, name := range v.base.Varnames() {
		vars[name] = m.Get(name).String()
	}
	return vars, query, true
}

// queryArgs adds to args the tool arguments query sets, each read as
// the tool's input schema types it.
func (v *view) queryArgs(query string, args map[string]any) error {
	q, err := url.ParseQuery(query)
	if err != nil {
		return fmt.Errorf("the query is not form-encoded: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		typ, ok := v.types[name]
		switch {
		case !ok:
			return fmt.Errorf("unknown query parameter %.64q: %s takes %s", name, v.spec.URI, strings.Join(v.spec.Query, ", "))
		case len(q[name]) != 1:
			return fmt.Errorf("query parameter %s is given %d times", name, len(q[name]))
		}
		val, err := queryValue(typ, q[name][0])
		if err != nil {
			return fmt.Errorf("query parameter %s: %w", name, err)
		}
		args[name] = val
	}
	return nil
}

// queryValue reads a query parameter's value as a JSON Schema type.
func queryValue(typ, s string) (any, error) {
	switch typ {
	case "integer":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		return n, nil
	case "number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a number")
		}
		return f, nil
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	}
	return s, nil
}

// expand returns the view's URI for vals (its variables and query
// parameters); false when that URI would not read vals back, as a path
// holding a '?' would not.
func (v *view) expand(vals map[string]string) (string, bool) {
	in := uritemplate.Values{}
	for k, x := range vals {
		in.Set(k, uritemplate.String(x))
	}
	uri, err := v.template.Expand(in)
	if err != nil {
		return "", false
	}
	vars, query, ok := v.match(uri)
	if !ok {
		return "", false
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false
	}
	for k, x := range vals {
		if got, isVar := vars[k]; isVar && got == x || !isVar && len(q[k]) == 1 && q[k][0] == x {
			continue
		}
		return "", false
	}
	return uri, len(vars)+len(q) == len(vals)
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
		if err := v.declare(e.spec); err != nil {
			return err
		}
		if spec.Templated() {
			// A view carries its tool's icon: its toolset's.
			t := mcp.NewResourceTemplate(spec.Template(), spec.Name, mcp.WithTemplateDescription(spec.Description), mcp.WithTemplateMIMEType(spec.MIMEType),
				mcp.WithTemplateIcons(e.spec.Tool.Icons...))
			v.template, v.base = t.URITemplate, mcp.NewResourceTemplate(spec.URI, spec.Name).URITemplate
			s.mcp.AddResourceTemplate(t, mcpserver.ResourceTemplateHandlerFunc(s.readView(v)))
		} else {
			s.mcp.AddResource(mcp.NewResource(spec.URI, spec.Name, mcp.WithResourceDescription(spec.Description), mcp.WithMIMEType(spec.MIMEType),
				mcp.WithResourceIcons(e.spec.Tool.Icons...)), s.readView(v))
		}
		if spec.Link != nil {
			s.links[spec.Tool] = v
		}
		s.views = append(s.views, v)
	}
	return nil
}

// decideView is decide for a resource URI that a view serves: the
// decision on its tool; false when no view serves uri.
func (s *Server) decideView(c *auth.Caller, uri string) (verdict, bool) {
	for _, v := range s.views {
		if _, _, ok := v.match(uri); ok {
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
		vars, query, ok := v.match(uri)
		var args map[string]any
		if ok && v.spec.Args != nil {
			args = v.spec.Args(vars)
		}
		var qerr error
		if ok && query != "" {
			if args == nil {
				args = map[string]any{}
			}
			qerr = v.queryArgs(query, args)
		}
		verd := s.decide(c, KindResource, uri)
		rec := request(KindResource, uri, args, c, verd)
		if verd.Allowed && !ok {
			verd = verdict{Reason: fmt.Sprintf("resource %s is not one of %s", uri, v.spec.Template())}
			rec = deny(rec, verd.Reason, nil)
		}
		if verd.Allowed {
			if qerr != nil {
				verd.Allowed = false
				rec = deny(rec, "invalid resource URI: "+qerr.Error(), nil)
			} else if err := verd.entry.check(args); err != nil {
				verd.Allowed = false
				rec = deny(rec, "invalid resource URI: "+err.Error(), nil)
			} else if s.needsApproval(verd.entry, args) {
				verd.Allowed = false
				rec = deny(rec, fmt.Sprintf("tool %s needs approval here: call it as a tool", v.spec.Tool), nil)
			} else if s.confirm[v.spec.Tool] {
				// A resource read cannot ask the user; only a link that a
				// confirmed call of this caller returned reads without asking.
				if !s.linked.has(linkKey(c, uri), time.Now()) {
					verd.Allowed = false
					rec = deny(rec, fmt.Sprintf("tool %s is confirmed in the client (--confirm), which a resource read cannot ask: call %s as a tool, or read the link its confirmed call returned", v.spec.Tool, v.spec.Tool), nil)
				} else {
					rec.Confirmation = audit.ConfirmConfirmed
				}
			}
		}
		// A read runs its tool: it is charged as a call of it.
		if verd.Allowed {
			if refused := s.limits.take(c, verd.entry.scope); refused != nil {
				verd.Allowed = false
				rec = deny(rec, refused.reason(), nil)
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
		res, err := verd.entry.spec.Handler(s.withCallable(ctx, c), call)
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
	text := joinTexts(res.Content)
	if res.IsError {
		return nil, fmt.Errorf("%s", text)
	}
	out := mcp.TextResourceContents{URI: uri, MIMEType: mime, Text: text}
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

// joinTexts is the text contents of a result as one text, each on a
// line of its own: a newline between two unless the first ends in one.
func joinTexts(content []mcp.Content) string {
	var texts []string
	for _, c := range content {
		if t, ok := c.(mcp.TextContent); ok {
			texts = append(texts, t.Text)
		}
	}
	if len(texts) == 1 {
		return texts[0]
	}
	var b strings.Builder
	for i, t := range texts {
		if i > 0 && !strings.HasSuffix(texts[i-1], "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(t)
	}
	return b.String()
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
			if v.spec.Template() == t.URITemplate.Raw() && s.decide(c, KindTool, v.spec.Tool).Allowed {
				out = append(out, t)
				break
			}
		}
	}
	res.ResourceTemplates = out
}
