// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"fmt"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
)

// PromptSpec declares one MCP prompt, as Spec declares a tool: its MCP
// definition (name, description, arguments), handler, the scope a caller
// needs to list and get it, its risk, and what its handler needs from the
// kernel sandbox (a prompt that embeds live state reads it).
type PromptSpec struct {
	Prompt  mcp.Prompt
	Handler server.PromptHandlerFunc
	Scope   auth.Scope
	Risk    Risk
	Needs   sandbox.Needs
	// Uses are the tools the prompt's workflow asks the model to call: the
	// prompt is listed and served only to a caller that may call every
	// one of them on this server.
	Uses []string
	// Optional are tools the workflow uses when the caller may call
	// them, and leaves out otherwise (the firewall's, which are off by
	// default): the handler learns which through OptionalTools.
	Optional []string
	// Complete maps an argument's name to the Completion.Kind that
	// completes it (arguments it does not name are not completed).
	Complete map[string]string
}

// Name returns the prompt's name.
func (p *PromptSpec) Name() string { return p.Prompt.Name }

// Validate checks the declaration: a name, a description, a handler, a
// known scope, a risk below critical (nothing waits for approval on
// prompts/get), arguments with distinct names, and completions only for
// declared arguments.
func (p *PromptSpec) Validate() error {
	switch {
	case p.Prompt.Name == "":
		return fmt.Errorf("prompt with no name")
	case p.Prompt.Description == "":
		return fmt.Errorf("prompt %s: no description", p.Prompt.Name)
	case p.Handler == nil:
		return fmt.Errorf("prompt %s: no handler", p.Prompt.Name)
	}
	if err := checkScopeAndRisk("prompt", p.Scope, p.Risk); err != nil {
		return fmt.Errorf("prompt %s: %w", p.Prompt.Name, err)
	}
	seen := map[string]bool{}
	for _, a := range p.Prompt.Arguments {
		switch {
		case a.Name == "":
			return fmt.Errorf("prompt %s: an argument with no name", p.Prompt.Name)
		case seen[a.Name]:
			return fmt.Errorf("prompt %s: argument %q declared twice", p.Prompt.Name, a.Name)
		}
		seen[a.Name] = true
	}
	for _, o := range p.Optional {
		if o == "" || slices.Contains(p.Uses, o) {
			return fmt.Errorf("prompt %s: optional tool %q is empty or also required", p.Prompt.Name, o)
		}
	}
	for arg, kind := range p.Complete {
		switch {
		case !seen[arg]:
			return fmt.Errorf("prompt %s: completes %q, which is not an argument", p.Prompt.Name, arg)
		case kind == "":
			return fmt.Errorf("prompt %s: argument %q completes with no kind", p.Prompt.Name, arg)
		}
	}
	return nil
}

// optionalKey is the context key of the optional tools a caller may call.
type optionalKey struct{}

// WithOptionalTools returns ctx carrying the prompt's optional tools the
// caller may call (the server sets it before a prompt's handler runs).
func WithOptionalTools(ctx context.Context, names []string) context.Context {
	return context.WithValue(ctx, optionalKey{}, names)
}

// OptionalTools returns the prompt's optional tools the caller may call.
func OptionalTools(ctx context.Context) []string {
	names, _ := ctx.Value(optionalKey{}).([]string)
	return names
}

// checkScopeAndRisk checks the scope and risk of a prompt or resource
// (what): those of a tool (checkScope), and a risk below critical, since
// only tool calls wait for approval.
func checkScopeAndRisk(what string, scope auth.Scope, risk Risk) error {
	if err := checkScope(what, scope, risk); err != nil {
		return err
	}
	if risk == RiskCritical {
		return fmt.Errorf("a %s cannot be critical: only tool calls wait for approval", what)
	}
	return nil
}

// checkScope checks the scope and risk of a declaration (what: tool,
// prompt, resource): a known scope, or none for low risk only, and a risk
// from low to critical.
func checkScope(what string, scope auth.Scope, risk Risk) error {
	switch {
	case scope != auth.ScopeAuthenticated && !scope.Valid():
		return fmt.Errorf("unknown scope %q", scope)
	case risk < RiskLow || risk > RiskCritical:
		return fmt.Errorf("no risk level")
	case scope == auth.ScopeAuthenticated && risk != RiskLow:
		return fmt.Errorf("only low-risk %ss may skip a scope", what)
	}
	return nil
}
