// SPDX-License-Identifier: Apache-2.0

// Package approvals is the toolset of two-person approval: list_approvals,
// approve_request and deny_request let a second person decide another's
// pending request for a critical call, through the server's approval gate.
package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// Config configures the approval tools. The zero value has no gate: every
// call says that two-person approval is not enabled.
type Config struct {
	// Gate returns the server's approval gate when two-person approval is
	// on, nil when it is off. It is called on every call, so the server
	// may open its gate after declaring the tools (a dependency resolved
	// at call time, as github-mcp-server resolves its clients); nil means
	// off.
	Gate func() *approval.Gate
}

// Toolset is the approval toolset, built by New.
type Toolset struct {
	cfg   Config
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New declares the approval tools. There is nothing in Config to get
// wrong, so the error is always nil; it is there for the shape every
// toolset's constructor has.
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{cfg: cfg}
	t.specs = t.declare()
	return t, nil
}

// Name returns "approvals".
func (t *Toolset) Name() string { return "approvals" }

// Tools returns the approval tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// gate is the server's gate, nil when two-person approval is off.
func (t *Toolset) gate() *approval.Gate {
	if t.cfg.Gate == nil {
		return nil
	}
	return t.cfg.Gate()
}

// errNoTwoPerson is returned by the approval tools when the server has no
// two-person approval.
var errNoTwoPerson = errors.New("two-person approval is not enabled on this server: start it with --approval-two-person")

// ListApprovalsArgs is list_approvals's input.
type ListApprovalsArgs struct {
	All bool `json:"all,omitempty" jsonschema_description:"include decided, used and expired requests (default: pending only)"`
}

// ApprovalList is list_approvals's output.
type ApprovalList struct {
	Requests []ApprovalView `json:"requests"`
}

// ApprovalView is one approval request as shown to an approver.
type ApprovalView struct {
	ID        string `json:"id"`
	Tool      string `json:"tool"`
	Arguments any    `json:"arguments" jsonschema_description:"the call's arguments, secrets redacted"`
	Plan      any    `json:"plan,omitempty" jsonschema_description:"what the call will run, secrets redacted, when the tool plans its calls (a stack deploy: the resolved compose configuration, the commit, the services and images); the approval is bound to it"`
	Digest    string `json:"digest" jsonschema_description:"Keyed digest (hmac-sha256:HEX, under the server's approval key) of the tool, exact arguments and plan the approval is bound to"`
	Requester string `json:"requester" jsonschema_description:"the caller's token agent and tailnet login"`
	Risk      string `json:"risk"`
	State     string `json:"state"`
	Created   string `json:"created"`
	Expires   string `json:"expires"`
	Decision  string `json:"decision,omitempty"`
}

// DecideArgs is approve_request's and deny_request's input.
type DecideArgs struct {
	ID     string `json:"id" jsonschema_description:"the approval request's id, from list_approvals"`
	Reason string `json:"reason,omitempty" jsonschema_description:"why, recorded in the audit log"`
}

// shown is v, redacted already, as an approver's client shows it: as JSON
// whose invisible runes (approval.Invisible: bidirectional overrides,
// zero-width spaces) are written as escapes, so that what the approver
// reads is in the order it runs; nil stays nil.
func shown(v any) any {
	if v == nil {
		return nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return json.RawMessage(approval.EscapeInvisible(j))
}

func viewOf(r approval.Request) ApprovalView {
	who := r.Caller.Agent
	if r.Caller.Tailscale != nil && r.Caller.Tailscale.LoginName != "" {
		who += " (" + r.Caller.Tailscale.LoginName + ")"
	}
	v := ApprovalView{ID: r.ID, Tool: r.Tool, Arguments: shown(r.Arguments), Plan: shown(r.Plan), Digest: r.Digest, Requester: who, Risk: r.Risk,
		State: string(r.State), Created: r.Created.UTC().Format(time.RFC3339), Expires: r.Expires.UTC().Format(time.RFC3339)}
	if d := r.Decision; d != nil {
		verb := "denied"
		if d.Approved {
			verb = "approved"
		}
		v.Decision = fmt.Sprintf("%s by %s (%s)", verb, d.Approver, d.Mechanism)
		if d.Reason != "" {
			v.Decision += ": " + d.Reason
		}
	}
	return v
}

// declare declares the approval tools.
func (t *Toolset) declare() []tools.Spec {
	decide := func(approve bool) func(ctx context.Context, in DecideArgs) (ApprovalView, error) {
		return func(ctx context.Context, in DecideArgs) (ApprovalView, error) {
			g := t.gate()
			if g == nil {
				return ApprovalView{}, errNoTwoPerson
			}
			if strings.TrimSpace(in.ID) == "" {
				return ApprovalView{}, tools.ArgErrorf("id", "is required")
			}
			decideFn := g.Deny
			if approve {
				decideFn = g.Approve
			}
			r, err := decideFn(ctx, in.ID, auth.CallerFrom(ctx), in.Reason)
			if err != nil {
				return ApprovalView{}, fmt.Errorf("deciding request %s: %w", in.ID, err)
			}
			return viewOf(r), nil
		}
	}
	writeHints := tools.Hints{ReadOnly: false, Destructive: false, Idempotent: false, OpenWorld: false}
	return []tools.Spec{
		tools.TypedSpec[ListApprovalsArgs, ApprovalList]{
			Name: "list_approvals", Title: "List approval requests",
			Description: "Approval requests for critical calls, pending by default. Needs approvals:grant.",
			Scope:       auth.ScopeApprovalsGrant, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Run: func(ctx context.Context, in ListApprovalsArgs) (ApprovalList, error) {
				g := t.gate()
				if g == nil {
					return ApprovalList{}, errNoTwoPerson
				}
				rs, err := g.List(ctx, auth.CallerFrom(ctx), in.All)
				if err != nil {
					return ApprovalList{}, fmt.Errorf("listing approvals: %w", err)
				}
				out := ApprovalList{Requests: []ApprovalView{}}
				for _, r := range rs {
					out.Requests = append(out.Requests, viewOf(r))
				}
				return out, nil
			},
		}.Spec(),
		tools.TypedSpec[DecideArgs, ApprovalView]{
			Name: "approve_request", Title: "Approve a request",
			Description: "Approves another person's pending request for a critical call, bound to its exact arguments; " +
				"the requester then repeats the call once. You cannot approve your own requests. Needs approvals:grant.",
			Scope: auth.ScopeApprovalsGrant, Risk: tools.RiskHigh, Hints: writeHints, Run: decide(true),
		}.Spec(),
		tools.TypedSpec[DecideArgs, ApprovalView]{
			Name: "deny_request", Title: "Deny a request",
			Description: "Denies a pending request for a critical call. Needs approvals:grant.",
			Scope:       auth.ScopeApprovalsGrant, Risk: tools.RiskHigh, Hints: writeHints, Run: decide(false),
		}.Spec(),
	}
}
