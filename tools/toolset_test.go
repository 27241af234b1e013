// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

func goodPrompt() tools.PromptSpec {
	return tools.PromptSpec{
		Prompt: mcp.NewPrompt("diagnose_host", mcp.WithPromptDescription("Walks through the host's health."),
			mcp.WithArgument("focus", mcp.ArgumentDescription("cpu, memory or disk"))),
		Handler: func(context.Context, mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult("diagnose", nil), nil
		},
		Scope: auth.ScopeSystemRead, Risk: tools.RiskLow,
	}
}

func goodResource() tools.ResourceSpec {
	return tools.ResourceSpec{
		Resource: mcp.NewResource("tailops://host/status", "host status", mcp.WithResourceDescription("The host's status."),
			mcp.WithMIMEType("application/json")),
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) { return nil, nil },
		Scope:   auth.ScopeSystemRead, Risk: tools.RiskLow,
	}
}

// TestPromptAndResourceSpecsValidate: prompts and resources are declared
// with a scope and a risk, as tools are, and an inconsistent declaration
// is refused with the reason.
func TestPromptAndResourceSpecsValidate(t *testing.T) {
	t.Parallel()
	if p := goodPrompt(); p.Validate() != nil {
		t.Fatalf("a good prompt: %v", p.Validate())
	}
	if r := goodResource(); r.Validate() != nil {
		t.Fatalf("a good resource: %v", r.Validate())
	}
	for _, tc := range []struct {
		name   string
		mutate func(*tools.PromptSpec)
		want   string
	}{
		{"no name", func(p *tools.PromptSpec) { p.Prompt.Name = "" }, "no name"},
		{"no description", func(p *tools.PromptSpec) { p.Prompt.Description = "" }, "no description"},
		{"no handler", func(p *tools.PromptSpec) { p.Handler = nil }, "no handler"},
		{"unknown scope", func(p *tools.PromptSpec) { p.Scope = "root" }, `unknown scope "root"`},
		{"no risk", func(p *tools.PromptSpec) { p.Risk = 0 }, "no risk level"},
		{"critical", func(p *tools.PromptSpec) { p.Risk = tools.RiskCritical }, "cannot be critical"},
		{"no scope above low risk", func(p *tools.PromptSpec) { p.Scope, p.Risk = auth.ScopeAuthenticated, tools.RiskModerate }, "only low-risk prompts"},
		{"argument with no name", func(p *tools.PromptSpec) { p.Prompt.Arguments = append(p.Prompt.Arguments, mcp.PromptArgument{}) }, "no name"},
		{"argument twice", func(p *tools.PromptSpec) {
			p.Prompt.Arguments = append(p.Prompt.Arguments, mcp.PromptArgument{Name: "focus"})
		}, `argument "focus" declared twice`},
	} {
		p := goodPrompt()
		tc.mutate(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("prompt, %s: %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*tools.ResourceSpec)
		want   string
	}{
		{"no URI", func(r *tools.ResourceSpec) { r.Resource.URI = "" }, "no URI"},
		{"relative URI", func(r *tools.ResourceSpec) { r.Resource.URI = "host/status" }, "must be absolute"},
		{"no name", func(r *tools.ResourceSpec) { r.Resource.Name = "" }, "no name"},
		{"no description", func(r *tools.ResourceSpec) { r.Resource.Description = "" }, "no description"},
		{"no handler", func(r *tools.ResourceSpec) { r.Handler = nil }, "no handler"},
		{"unknown scope", func(r *tools.ResourceSpec) { r.Scope = "files:write" }, "unknown scope"},
		{"critical", func(r *tools.ResourceSpec) { r.Risk = tools.RiskCritical }, "cannot be critical"},
		{"no scope above low risk", func(r *tools.ResourceSpec) { r.Scope, r.Risk = auth.ScopeAuthenticated, tools.RiskHigh }, "only low-risk resources"},
	} {
		r := goodResource()
		tc.mutate(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resource, %s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// offering is a toolset that offers a prompt and a resource besides its
// tool.
type offering struct{ plain }

func (offering) Prompts() []tools.PromptSpec     { return []tools.PromptSpec{goodPrompt()} }
func (offering) Resources() []tools.ResourceSpec { return []tools.ResourceSpec{goodResource()} }

// plain is a toolset with one tool and nothing else.
type plain struct{ name string }

func (p plain) Name() string { return p.name }
func (p plain) Tools() []tools.Spec {
	return []tools.Spec{tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: p.name + "_status", Title: "Status", Description: "Reports nothing.",
		Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(context.Context, tools.NoArgs) (tools.NoArgs, error) { return tools.NoArgs{}, nil },
	}.Spec()}
}

// TestToolsetsGatherInOrder: the tools, prompts and resources of a list
// of toolsets come in the list's order, and a toolset offers prompts or
// resources only by implementing the optional interfaces.
func TestToolsetsGatherInOrder(t *testing.T) {
	t.Parallel()
	sets := []tools.Toolset{plain{"a"}, offering{plain{"b"}}, plain{"c"}}
	if got := tools.Names(tools.Specs(sets)); !slices.Equal(got, []string{"a_status", "b_status", "c_status"}) {
		t.Errorf("tools %v", got)
	}
	if got := tools.Prompts(sets); len(got) != 1 || got[0].Name() != "diagnose_host" {
		t.Errorf("prompts %+v, want the one of toolset b", got)
	}
	if got := tools.Resources(sets); len(got) != 1 || got[0].URI() != "tailops://host/status" {
		t.Errorf("resources %+v, want the one of toolset b", got)
	}
	if got := tools.Prompts(sets[:1]); len(got) != 0 {
		t.Errorf("a toolset without prompts offers %+v", got)
	}
}

// TestUnavailable: the tools of a toolset whose configuration cannot be
// used keep their declarations, need nothing from the kernel, and fail
// every call with the reason, secrets redacted.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	specs := plain{"x"}.Tools()
	specs[0].Needs = sandbox.Needs{Read: []string{"/proc"}}
	got := tools.Unavailable(specs, errors.New("DOCKER_HOST: tcp://admin:hunter2@docker.lan: bad scheme"))
	if len(got) != 1 || got[0].Name() != "x_status" || !reflect.DeepEqual(got[0].Tool, specs[0].Tool) || got[0].Scope != specs[0].Scope {
		t.Fatalf("declaration changed: %+v", got)
	}
	if !reflect.DeepEqual(got[0].Needs, sandbox.Needs{}) {
		t.Errorf("needs %+v, want none", got[0].Needs)
	}
	if specs[0].Needs.Read == nil {
		t.Errorf("the original specs were changed")
	}
	res, err := got[0].Handler(context.Background(), mcp.CallToolRequest{})
	if err != nil || !res.IsError {
		t.Fatalf("call: %+v, %v; want a tool error", res, err)
	}
	text := res.Content[0].(mcp.TextContent).Text
	if !strings.HasPrefix(text, "DOCKER_HOST: ") || strings.Contains(text, "hunter2") {
		t.Errorf("error text %q: want the reason, without the password", text)
	}
}

// TestGrants: the sandbox grants each tool its own needs, under its name.
func TestGrants(t *testing.T) {
	t.Parallel()
	specs := append(plain{"a"}.Tools(), plain{"b"}.Tools()...)
	specs[1].Needs = sandbox.Needs{Sockets: []string{"/run/b.sock"}}
	got := tools.Grants(specs)
	want := []sandbox.Grant{{Who: "tool a_status"}, {Who: "tool b_status", Needs: sandbox.Needs{Sockets: []string{"/run/b.sock"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Grants = %+v, want %+v", got, want)
	}
}
