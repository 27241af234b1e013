// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

const (
	// completeTimeout bounds how long one completion may read names.
	completeTimeout = 5 * time.Second
	// maxCompletions is the most values one answer carries (the MCP
	// specification's limit).
	maxCompletions = 100
)

// promptCompleter answers completion/complete for prompt arguments
// through the choke point: the caller must be allowed the prompt (so
// every tool it uses) and the tool that lists the names, and every
// request is recorded, allowed or not, before the names leave.
type promptCompleter struct{ s *Server }

// CompletePromptArgument completes argument of prompt for the caller.
func (p promptCompleter) CompletePromptArgument(ctx context.Context, prompt string, argument mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	s := p.s
	start := time.Now()
	c := auth.CallerFrom(ctx)
	v := s.decide(c, KindPrompt, prompt)
	args := map[string]any{"argument": argument.Name, "value": argument.Value}
	cp, ok := s.completionFor(v, argument.Name)
	if v.Allowed && ok {
		if tv := s.decide(c, KindTool, cp.Tool); !tv.Allowed {
			v = verdict{Reason: fmt.Sprintf("completing %s of prompt %s lists with %s: %s", argument.Name, prompt, cp.Tool, tv.Reason), Missing: tv.Missing, entry: v.entry}
		}
	}
	return s.answerCompletion(ctx, request(KindCompletion, prompt, args, c, v), start, cp, ok, fmt.Sprintf("%s of prompt %s", argument.Name, prompt), argument.Value)
}

// resourceCompleter answers completion/complete for the variables of
// resource templates (views) through the choke point: the caller must be
// allowed the view's tool and the tool that lists the names, and every
// request is recorded, allowed or not, before the names leave.
type resourceCompleter struct{ s *Server }

// CompleteResourceArgument completes variable argument of the template
// uri for the caller.
func (r resourceCompleter) CompleteResourceArgument(ctx context.Context, uri string, argument mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	s := r.s
	start := time.Now()
	c := auth.CallerFrom(ctx)
	args := map[string]any{"argument": argument.Name, "value": argument.Value}
	v := verdict{Reason: fmt.Sprintf("unknown resource template %s", uri)}
	var (
		cp tools.Completion
		ok bool
	)
	if i := slices.IndexFunc(s.views, func(x *view) bool { return (x.spec.URI == uri || x.spec.Template() == uri) && x.spec.Templated() }); i >= 0 {
		vw := s.views[i]
		if v = s.decide(c, KindTool, vw.spec.Tool); !v.Allowed {
			v.Reason = fmt.Sprintf("resource template %s is read with tool %s: %s", uri, vw.spec.Tool, v.Reason)
		} else if kind, has := vw.spec.Complete[argument.Name]; has {
			cp, ok = s.completions[kind]
		}
	}
	if v.Allowed && ok {
		if tv := s.decide(c, KindTool, cp.Tool); !tv.Allowed {
			v = verdict{Reason: fmt.Sprintf("completing %s of %s lists with %s: %s", argument.Name, uri, cp.Tool, tv.Reason), Missing: tv.Missing, entry: v.entry}
		}
	}
	return s.answerCompletion(ctx, request(KindResourceCompletion, uri, args, c, v), start, cp, ok, fmt.Sprintf("%s of %s", argument.Name, uri), argument.Value)
}

// answerCompletion records a completion request decided in rec and, when
// allowed, answers the names cp gives that start with prefix (none when
// !ok: the argument is not completed). what names the argument for
// errors.
func (s *Server) answerCompletion(ctx context.Context, rec *audit.Record, start time.Time, cp tools.Completion, ok bool, what, prefix string) (*mcp.Completion, error) {
	if rec.Decision != audit.DecisionAllowed {
		if err := s.write(ctx, rec); err != nil {
			return nil, fmt.Errorf("%s", auditRefusal)
		}
		return nil, fmt.Errorf("%s", rec.Reason)
	}
	out := &mcp.Completion{Values: []string{}}
	var err error
	if ok {
		// The names come from running the listing tool: it is charged to
		// the caller's rate limits as a call of that tool.
		if tv := s.decide(rec.Caller, KindTool, cp.Tool); tv.entry != nil {
			if refused := s.limits.take(rec.Caller, tv.entry.scope); refused != nil {
				if err := s.write(ctx, deny(rec, refused.reason(), nil)); err != nil {
					return nil, fmt.Errorf("%s", auditRefusal)
				}
				return nil, fmt.Errorf("%s", refused.reason())
			}
		}
		out, err = complete(ctx, cp.Values, prefix)
	}
	if err != nil {
		// The engine's or the bus's message, under the rules of tool errors.
		err = fmt.Errorf("completing %s: %s", what, redact.Text(err.Error()))
	}
	return out, s.finishContent(ctx, rec, start, err)
}

// completionFor returns what completes argument of the prompt v allows;
// false when the argument is not completed.
func (s *Server) completionFor(v verdict, argument string) (tools.Completion, bool) {
	if !v.Allowed || v.entry == nil || v.entry.prompt == nil {
		return tools.Completion{}, false
	}
	kind, ok := v.entry.prompt.Complete[argument]
	if !ok {
		return tools.Completion{}, false
	}
	cp, ok := s.completions[kind]
	return cp, ok
}

// complete returns the names values gives that start with prefix, sorted,
// at most maxCompletions of them (Total and HasMore say how many more).
func complete(ctx context.Context, values func(context.Context) ([]string, error), prefix string) (*mcp.Completion, error) {
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	all, err := values(ctx)
	if err != nil {
		return nil, err
	}
	match := []string{}
	for _, v := range all {
		if strings.HasPrefix(v, prefix) {
			match = append(match, v)
		}
	}
	slices.Sort(match)
	match = slices.Compact(match)
	out := &mcp.Completion{Values: match, Total: len(match)}
	if len(match) > maxCompletions {
		out.Values, out.HasMore = match[:maxCompletions], true
	}
	return out, nil
}
