// SPDX-License-Identifier: Apache-2.0

// Package tools is the tool registry: every MCP tool TailOps offers is
// declared once, as a Spec, by the Toolset of its domain (one package per
// domain under tools/), and listing, filtering, authorization, audit and
// the sandbox policy are all derived from those declarations. This
// package holds the declaration machinery only, and links no domain's
// library.
package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
)

// Risk is how much harm a tool can do, from low to critical.
type Risk int

// Risk levels, in increasing order.
const (
	RiskLow Risk = iota + 1
	RiskModerate
	RiskHigh
	RiskCritical
)

var riskNames = map[Risk]string{RiskLow: "low", RiskModerate: "moderate", RiskHigh: "high", RiskCritical: "critical"}

// String returns the risk's name.
func (r Risk) String() string {
	if n, ok := riskNames[r]; ok {
		return n
	}
	return fmt.Sprintf("risk(%d)", int(r))
}

// MarshalText encodes the risk as its name.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes a risk name.
func (r *Risk) UnmarshalText(b []byte) error {
	for k, v := range riskNames {
		if v == string(b) {
			*r = k
			return nil
		}
	}
	return fmt.Errorf("unknown risk %q", b)
}

// Spec declares one tool: its MCP definition (name, description, input
// and output schemas, annotations), handler, required scope, risk and
// what it needs from the kernel sandbox: concrete, resolved resources
// (paths with host prefixes applied, sockets, ports), which its toolset
// resolves from its configuration when it declares the tool.
type Spec struct {
	Tool    mcp.Tool
	Handler server.ToolHandlerFunc
	Scope   auth.Scope
	Risk    Risk
	Needs   sandbox.Needs
	// ApprovalFor, when set, reports whether a call with these arguments
	// waits for approval although the tool is not critical (an
	// http_request_test to a URL off the allow-list); nil means never.
	ApprovalFor func(args any) bool
	// RiskFor, when set, is a call's effective risk from its arguments,
	// as the toolset's configuration decides it (a restart_service of a
	// unit the configuration names as less critical); it can only lower
	// Risk, which stays the declared (documented) risk. nil means Risk.
	RiskFor func(args any) Risk
	// ApprovalPlan, when set, plans a call that waits for approval, after
	// its arguments were validated and before the approval request is
	// made: the request shows the plan's Detail, its Bind is folded into
	// the approval's digest, and the handler gets the plan (PlanFrom) to
	// run exactly what was approved. An error is the call's tool error,
	// and no request is made. nil means the request shows the arguments
	// only.
	ApprovalPlan func(ctx context.Context, args any) (Plan, error)
	// inferSchemas, set by TypedSpec.Spec, infers the tool's schemas from
	// its types afresh (for schemas.json.gz); false in a build without
	// inference.
	inferSchemas func() (toolSchemas, bool)
}

// Name returns the tool's name.
func (s *Spec) Name() string { return s.Tool.Name }

// ReadOnly reports whether the tool is annotated read-only. An unset hint
// counts as not read-only.
func (s *Spec) ReadOnly() bool {
	h := s.Tool.Annotations.ReadOnlyHint
	return h != nil && *h
}

// Destructive reports whether the tool may destroy state. An unset hint
// counts as destructive, as the MCP specification says.
func (s *Spec) Destructive() bool {
	h := s.Tool.Annotations.DestructiveHint
	return h == nil || *h
}

// Task reports whether a client may run the tool's calls as MCP tasks.
func (s *Spec) Task() bool {
	e := s.Tool.Execution
	return e != nil && (e.TaskSupport == mcp.TaskSupportOptional || e.TaskSupport == mcp.TaskSupportRequired)
}

// NeedsApproval reports whether calls of the tool wait for approval by
// its declared risk (critical); RiskFor may lower it for some calls.
func (s *Spec) NeedsApproval() bool { return s.Risk == RiskCritical }

// CallRisk is the effective risk of a call with args: Risk, lowered (never
// raised) by RiskFor when set. The audit record carries it.
func (s *Spec) CallRisk(args any) Risk {
	if s.RiskFor == nil {
		return s.Risk
	}
	if r := s.RiskFor(args); r >= RiskLow && r < s.Risk {
		return r
	}
	return s.Risk
}

// CallNeedsApproval reports whether a call with args waits for approval
// by the tool's own declaration: its effective risk (CallRisk) is
// critical, or ApprovalFor says so.
func (s *Spec) CallNeedsApproval(args any) bool {
	return s.CallRisk(args) == RiskCritical || (s.ApprovalFor != nil && s.ApprovalFor(args))
}

// Validate checks the declaration for internal consistency: a name, a
// known scope, a known risk, explicit annotations that do not contradict
// each other or the risk, and schemas that are valid JSON objects.
func (s *Spec) Validate() error {
	a := s.Tool.Annotations
	switch {
	case s.Tool.Name == "":
		return fmt.Errorf("tool with no name")
	case s.Tool.Description == "":
		return fmt.Errorf("tool %s: no description", s.Tool.Name)
	case s.Handler == nil:
		return fmt.Errorf("tool %s: no handler", s.Tool.Name)
	}
	if err := checkScope("tool", s.Scope, s.Risk); err != nil {
		return fmt.Errorf("tool %s: %w", s.Tool.Name, err)
	}
	switch {
	case a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil:
		return fmt.Errorf("tool %s: every annotation hint must be set explicitly", s.Tool.Name)
	case *a.ReadOnlyHint && *a.DestructiveHint:
		return fmt.Errorf("tool %s: read-only and destructive at once", s.Tool.Name)
	case *a.ReadOnlyHint && s.Risk >= RiskCritical:
		return fmt.Errorf("tool %s: read-only tools cannot be critical", s.Tool.Name)
	case !*a.ReadOnlyHint && s.Risk < RiskHigh:
		return fmt.Errorf("tool %s: tools that change state are at least high risk", s.Tool.Name)
	}
	for what, b := range map[string]json.RawMessage{"input": s.Tool.RawInputSchema, "output": s.Tool.RawOutputSchema} {
		if b != nil && !isJSONObject(b) {
			return fmt.Errorf("tool %s: %s schema is not a JSON object", s.Tool.Name, what)
		}
	}
	return nil
}

// isJSONObject reports whether b is one valid JSON object (checked
// without decoding it: every tool's schemas are checked at start-up).
func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}
