// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"fmt"
	"net/url"

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
