// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
)

// ResourceSpec declares one MCP resource, as Spec declares a tool: its
// MCP definition (URI, name, description, MIME type), handler, the scope
// a caller needs to list and read it, its risk, and what its handler
// needs from the kernel sandbox.
type ResourceSpec struct {
	Resource mcp.Resource
	Handler  server.ResourceHandlerFunc
	Scope    auth.Scope
	Risk     Risk
	Needs    sandbox.Needs
}

// URI returns the resource's URI, which names it.
func (r *ResourceSpec) URI() string { return r.Resource.URI }

// Validate checks the declaration: an absolute URI, a name, a
// description, a handler, a known scope and a risk below critical
// (nothing waits for approval on resources/read).
func (r *ResourceSpec) Validate() error {
	u, err := url.Parse(r.Resource.URI)
	switch {
	case r.Resource.URI == "":
		return fmt.Errorf("resource with no URI")
	case err != nil || u.Scheme == "":
		return fmt.Errorf("resource %q: the URI must be absolute, such as tailops://host/status", r.Resource.URI)
	case r.Resource.Name == "":
		return fmt.Errorf("resource %s: no name", r.Resource.URI)
	case r.Resource.Description == "":
		return fmt.Errorf("resource %s: no description", r.Resource.URI)
	case r.Handler == nil:
		return fmt.Errorf("resource %s: no handler", r.Resource.URI)
	}
	if err := checkScopeAndRisk("resource", r.Scope, r.Risk); err != nil {
		return fmt.Errorf("resource %s: %w", r.Resource.URI, err)
	}
	return nil
}

// ResourceView serves a read-only tool's result as an MCP resource: a URI
// template whose variables become the tool's arguments (a URI without
// variables is a plain resource). Reading it is deciding, auditing and
// running that tool with those arguments, so it is offered only where the
// tool is, to callers who may call it, and needs nothing from the kernel
// the tool does not declare.
type ResourceView struct {
	// URI is the URI template (RFC 6570), such as
	// tailops://containers/{id}/logs.
	URI string
	// Name, Description and MIMEType describe it in resources/list and
	// resources/templates/list.
	Name, Description, MIMEType string
	// Tool is the read-only tool that reads it.
	Tool string
	// Args maps the URI's variables to the tool's arguments; nil means
	// no arguments.
	Args func(vars map[string]string) map[string]any
	// Fields names the top-level fields of the tool's structured result
	// the view shows, in JSON (MIMEType application/json); nil means the
	// whole result.
	Fields []string
	// Complete names, for a URI variable, the kind of Completion that
	// completes it (completion/complete of the template); nil means none.
	Complete map[string]string
	// Watch names the Watcher whose changes update the view, and Key the
	// URI variable a change's key is matched against; empty means the
	// view cannot be subscribed to.
	Watch, Key string
	// Query names the tool's arguments a URI's query may also set
	// (RFC 6570 form-style, listed as the template's {?name,...}), each
	// read as the tool's input schema types it; nil means none.
	Query []string
	// Link, when set, lets the view stand for a large result of its
	// tool: a call whose text is larger than the server inlines is
	// answered with a resource link to the view's URI for that call.
	// Link maps the call's arguments to the URI's variables and query
	// parameters; false when no URI of the view reads the same thing.
	Link func(args map[string]any) (map[string]string, bool)
	// Omit names the top-level fields of the tool's structured result a
	// link stands for besides the result's text: they are emptied, and
	// the result's LinkField names the resource. Only a view with Link
	// names any; none when the tool's content is only in its text
	// (read_file).
	Omit []string
}

// LinkField is the field of a tool's structured result that names the
// resource standing for what a large result left out; a tool whose view
// declares Link must have it in its output schema.
const LinkField = "link"

// Watcher reports changes of the things resource views show (such as
// containers): it runs until ctx ends or its source fails, calling
// changed with the keys (ids, names) of each thing that changed. A zero
// since asks for changes from now on; otherwise the previous run failed
// at since, and the watcher also reports the changes since then its
// source still knows of and, once its source answers again, calls
// changed with no keys: anything may have changed while it was away.
type Watcher func(ctx context.Context, since time.Time, changed func(keys ...string)) error

// Validate checks the view: an absolute URI template, a name, a
// description, a tool, fields only of a JSON view, and completions only
// of its variables.
func (v *ResourceView) Validate() error {
	scheme, _, ok := strings.Cut(v.URI, "://")
	switch {
	case !ok || scheme == "" || strings.ContainsAny(scheme, "{}"):
		return fmt.Errorf("resource view %q: the URI must be absolute, such as tailops://host/status", v.URI)
	case v.Name == "" || v.Description == "":
		return fmt.Errorf("resource view %s: no name or description", v.URI)
	case v.Tool == "":
		return fmt.Errorf("resource view %s: no tool", v.URI)
	case len(v.Fields) > 0 && v.MIMEType != "application/json":
		return fmt.Errorf("resource view %s: shows fields %v of its tool's result, which only a JSON view can", v.URI, v.Fields)
	case v.Link == nil && len(v.Omit) > 0:
		return fmt.Errorf("resource view %s: names result fields a link stands for (Omit) but links nothing (no Link)", v.URI)
	case strings.ContainsAny(v.URI, "?#"):
		return fmt.Errorf("resource view %s: the URI has no query or fragment; Query names its query parameters", v.URI)
	}
	t, err := uritemplate.New(v.URI)
	if err != nil {
		return fmt.Errorf("resource view %s: %w", v.URI, err)
	}
	for name, kind := range v.Complete {
		if !slices.Contains(t.Varnames(), name) || kind == "" {
			return fmt.Errorf("resource view %s: completes %q, which is not one of its variables, or with no kind", v.URI, name)
		}
	}
	for i, q := range v.Query {
		if q == "" || slices.Contains(t.Varnames(), q) || slices.Contains(v.Query[:i], q) {
			return fmt.Errorf("resource view %s: query parameter %q is empty, repeated or one of the URI's variables", v.URI, q)
		}
	}
	if (v.Watch == "") != (v.Key == "") || (v.Key != "" && !slices.Contains(t.Varnames(), v.Key)) {
		return fmt.Errorf("resource view %s: watches %q by %q, which must both be set and name one of its variables", v.URI, v.Watch, v.Key)
	}
	return nil
}

// Templated reports whether the view's URI has variables.
func (v *ResourceView) Templated() bool { return strings.Contains(v.URI, "{") || len(v.Query) > 0 }

// Template is the view's URI template as listed: URI, with its query
// parameters as {?name,...}.
func (v *ResourceView) Template() string {
	if len(v.Query) == 0 {
		return v.URI
	}
	return v.URI + "{?" + strings.Join(v.Query, ",") + "}"
}
