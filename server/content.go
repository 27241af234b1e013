// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// Prompts and resources pass the same choke point as tools: listed only
// when decide allows them to the caller, and every prompts/get and
// resources/read is decided and recorded, allowed or not, before its
// result leaves. Neither is ever critical (tools.PromptSpec and
// tools.ResourceSpec refuse it), so neither waits for approval.

// addPrompts registers the enabled prompts.
func (s *Server) addPrompts(specs []tools.PromptSpec) error {
	for i := range specs {
		p := &specs[i]
		if err := p.Validate(); err != nil {
			return err
		}
		if err := s.register(&entry{kind: KindPrompt, name: p.Name(), scope: p.Scope, risk: p.Risk, prompt: p}); err != nil {
			return err
		}
		s.mcp.AddPrompt(p.Prompt, s.authorizePrompt(p.Name(), p.Handler))
	}
	return nil
}

// addResources registers the enabled resources.
func (s *Server) addResources(specs []tools.ResourceSpec) error {
	for i := range specs {
		r := &specs[i]
		if err := r.Validate(); err != nil {
			return err
		}
		if err := s.register(&entry{kind: KindResource, name: r.URI(), scope: r.Scope, risk: r.Risk}); err != nil {
			return err
		}
		s.mcp.AddResource(r.Resource, s.authorizeResource(r.URI(), r.Handler))
	}
	return nil
}

// register adds e to what the choke point decides by, refusing a second
// declaration of the same kind and name.
func (s *Server) register(e *entry) error {
	k := entryKey{e.kind, e.name}
	if s.entries[k] != nil {
		return fmt.Errorf("%s %s declared twice", e.kind, e.name)
	}
	s.entries[k] = e
	s.known[k] = true
	return nil
}

// authorizePrompt wraps a prompt's handler: decide, run, record.
func (s *Server) authorizePrompt(name string, h mcpserver.PromptHandlerFunc) mcpserver.PromptHandlerFunc {
	return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		start := time.Now()
		c := auth.CallerFrom(ctx)
		v := s.decide(c, KindPrompt, name)
		rec := request(KindPrompt, name, req.Params.Arguments, c, v)
		if !v.Allowed {
			if err := s.write(ctx, rec); err != nil {
				return nil, fmt.Errorf("%s", auditRefusal)
			}
			return nil, fmt.Errorf("%s", v.Reason)
		}
		var usable []string
		for _, tool := range v.entry.prompt.Optional {
			if s.decide(c, KindTool, tool).Allowed {
				usable = append(usable, tool)
			}
		}
		res, err := h(tools.WithOptionalTools(ctx, usable), req)
		return res, s.finishContent(ctx, rec, start, err)
	}
}

// authorizeResource wraps a resource's handler: decide, run, record.
func (s *Server) authorizeResource(uri string, h mcpserver.ResourceHandlerFunc) mcpserver.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		start := time.Now()
		c := auth.CallerFrom(ctx)
		v := s.decide(c, KindResource, uri)
		rec := request(KindResource, uri, nil, c, v)
		if !v.Allowed {
			if err := s.write(ctx, rec); err != nil {
				return nil, fmt.Errorf("%s", auditRefusal)
			}
			return nil, fmt.Errorf("%s", v.Reason)
		}
		res, err := h(ctx, req)
		return res, s.finishContent(ctx, rec, start, err)
	}
}

// finishContent records the outcome of a prompt or resource request;
// without its record, the result is withheld (the error replaces it).
func (s *Server) finishContent(ctx context.Context, rec *audit.Record, start time.Time, err error) error {
	outcome(rec, nil, err, time.Since(start))
	if werr := s.write(ctx, rec); werr != nil {
		return fmt.Errorf("the result is withheld: its audit record could not be written")
	}
	return err
}

// filterPrompts removes from a prompts/list result the prompts the choke
// point does not allow the caller. (mcp-go's prompt filter would also
// hide them from prompts/get, which would then answer "not found" before
// the choke point could say why, and record it.)
func (s *Server) filterPrompts(ctx context.Context, _ any, _ *mcp.ListPromptsRequest, res *mcp.ListPromptsResult) {
	if res == nil {
		return
	}
	c := auth.CallerFrom(ctx)
	out := res.Prompts[:0]
	for _, p := range res.Prompts {
		if s.decide(c, KindPrompt, p.Name).Allowed {
			out = append(out, p)
		}
	}
	res.Prompts = out
}

// filterResources removes from a resources/list result the resources the
// choke point does not allow the caller (mcp-go has no resource filter).
func (s *Server) filterResources(ctx context.Context, _ any, _ *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
	if res == nil {
		return
	}
	c := auth.CallerFrom(ctx)
	out := res.Resources[:0]
	for _, r := range res.Resources {
		if s.decide(c, KindResource, r.URI).Allowed {
			out = append(out, r)
		}
	}
	res.Resources = out
}
