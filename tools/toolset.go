// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"maps"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/sandbox"
)

// Toolset is one domain's tools (host status, files, Docker...), declared
// together by one package under tools/. A toolset is built from its
// package's Config by its constructor, which validates the configuration
// and resolves everything the kernel must grant (into each Spec's Needs);
// declaring and listing its tools does no I/O. The server's one list of
// toolsets lives in package main.
type Toolset interface {
	// Name names the toolset in messages and logs, as one word
	// ("docker").
	Name() string
	// Tools declares the toolset's tools, in a stable order. It does no
	// I/O, and every call returns the same declarations.
	Tools() []Spec
}

// Opener is a Toolset that opens handles its tools need before the
// kernel sandbox is applied: directory handles on the file roots, say,
// which the tools then open files beneath. The server calls Open once,
// before the sandbox, on each toolset with an enabled tool; until then
// (and in `sandbox explain`, which opens nothing) the tools only declare.
type Opener interface {
	Open(ctx context.Context) error
}

// Closer is a Toolset that holds something to release when the server
// stops: what Open opened.
type Closer interface {
	Close() error
}

// PromptProvider is a Toolset that offers MCP prompts besides its tools,
// declared as PromptSpecs: with a scope and a risk, authorized and
// audited as tools are.
type PromptProvider interface {
	Prompts() []PromptSpec
}

// ResourceProvider is a Toolset that offers MCP resources besides its
// tools, declared as ResourceSpecs: with a scope, a risk and sandbox
// needs, authorized and audited as tools are.
type ResourceProvider interface {
	Resources() []ResourceSpec
}

// ToolsetMeta is the _meta key of a tool's declaration that names its
// toolset ("docker"), so that a client (or a fleet entry node's
// list_hosts) can group the tools it is offered.
const ToolsetMeta = "tailops.dev/toolset"

// Specs returns the tools of every toolset in sets, in order, each with
// its toolset's name in its _meta (ToolsetMeta) and its toolset's icon
// when it has one (Icon).
func Specs(sets []Toolset) []Spec {
	var out []Spec
	for _, ts := range sets {
		specs := slices.Clone(ts.Tools())
		icon, hasIcon := Icon(ts.Name())
		for i := range specs {
			t := &specs[i].Tool
			if hasIcon {
				t.Icons = []mcp.Icon{icon}
			}
			meta := &mcp.Meta{AdditionalFields: map[string]any{}}
			if t.Meta != nil {
				meta.ProgressToken = t.Meta.ProgressToken
				maps.Copy(meta.AdditionalFields, t.Meta.AdditionalFields)
			}
			meta.AdditionalFields[ToolsetMeta] = ts.Name()
			t.Meta = meta
		}
		out = append(out, specs...)
	}
	return out
}

// Prompts returns the prompts of every toolset in sets that offers any,
// in order.
func Prompts(sets []Toolset) []PromptSpec { return provided(sets, PromptProvider.Prompts) }

// Resources returns the resources of every toolset in sets that offers
// any, in order, each with its toolset's icon when it has one (Icon).
func Resources(sets []Toolset) []ResourceSpec {
	var out []ResourceSpec
	for _, ts := range sets {
		p, ok := ts.(ResourceProvider)
		if !ok {
			continue
		}
		rs := slices.Clone(p.Resources())
		if icon, ok := Icon(ts.Name()); ok {
			for i := range rs {
				rs[i].Resource.Icons = []mcp.Icon{icon}
			}
		}
		out = append(out, rs...)
	}
	return out
}

// WatcherProvider is a Toolset whose Watchers report changes of what
// resource views show, by the name a view's Watch gives.
type WatcherProvider interface {
	Watchers() map[string]Watcher
}

// Watchers returns the watchers of every toolset in sets that offers
// any, by name; a later toolset does not replace an earlier one's.
func Watchers(sets []Toolset) map[string]Watcher {
	out := map[string]Watcher{}
	for _, ts := range sets {
		if p, ok := ts.(WatcherProvider); ok {
			for name, w := range p.Watchers() {
				if _, dup := out[name]; !dup && w != nil {
					out[name] = w
				}
			}
		}
	}
	return out
}

// provided returns what get gives for each toolset of sets that is a P,
// in order.
func provided[P any, T any](sets []Toolset, get func(P) []T) []T {
	var out []T
	for _, ts := range sets {
		if p, ok := any(ts).(P); ok {
			out = append(out, get(p)...)
		}
	}
	return out
}

// Unavailable returns copies of specs that need nothing from the kernel
// and whose every call fails with err's message (secrets redacted), as a
// tool error: the tools of a toolset whose configuration cannot be used,
// still declared so that a server can name them in its selection, and
// start without them when none is enabled.
func Unavailable(specs []Spec, err error) []Spec {
	msg := redact.Text(err.Error())
	out := slices.Clone(specs)
	for i := range out {
		out[i].Needs = sandbox.Needs{}
		out[i].ApprovalPlan = nil // the handler answers why; no approval is asked for
		out[i].Handler = func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError(msg), nil
		}
	}
	return out
}

// Grants returns what the sandbox must grant specs: each tool's Needs,
// for "tool NAME".
func Grants(specs []Spec) []sandbox.Grant {
	out := make([]sandbox.Grant, len(specs))
	for i := range specs {
		out[i] = sandbox.Grant{Who: "tool " + specs[i].Name(), Needs: specs[i].Needs}
	}
	return out
}
